"""Report the import graph of trussvae: cycles between packages and modules, and upward edges.

    PYTHONPATH=src python scripts/import_graph.py [--package trussvae]

Uses grimp (installed with import-linter). Every import counts, including those inside
functions. "Upward" is judged against the layer order stated in docs/architecture.md (and
enforced by .importlinter): ``LAYERS`` below, bottom first; modules in one layer may not import
each other. Prints the numbers and each offending edge; exits 1 if any cycle or upward edge.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import grimp

#: bottom to top; names in one tuple are independent of each other (docs/architecture.md)
LAYERS = (
    ("jsonio", "parallel"),
    ("fem",),
    ("design_space",),
    ("io",),
    ("generation",),
    ("data", "viz"),
    ("models",),
    ("design",),
    ("pipeline", "training"),
)


def top_level(module: str, package: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges(graph: grimp.ImportGraph, package: str) -> set[tuple[str, str]]:
    """(importer, imported) pairs between modules of ``package``."""
    out = set()
    for mod in graph.modules:
        for imp in graph.find_modules_directly_imported_by(mod):
            if imp.split(".")[0] == package:
                out.add((mod, imp))
    return out


def strongly_connected(nodes, succ) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def sibling_cycles(pairs) -> list[list[str]]:
    """Cycles among the children of each package (module-level cycles, as import-linter's
    ``acyclic_siblings`` sees them): edges a.x.* -> a.y.* collapse to a.x -> a.y."""
    succ: dict[str, set[str]] = defaultdict(set)
    nodes = set()
    for a, b in pairs:
        pa, pb = a.split("."), b.split(".")
        k = 0
        while k < min(len(pa), len(pb)) and pa[k] == pb[k]:
            k += 1
        if k == 0 or k == len(pa) or k == len(pb):  # different roots, or an ancestor import
            continue
        x, y = ".".join(pa[: k + 1]), ".".join(pb[: k + 1])
        succ[x].add(y)
        nodes |= {x, y}
    return strongly_connected(nodes, succ)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="trussvae")
    args = parser.parse_args(argv)
    graph = grimp.build_graph(args.package, cache_dir=None)
    pairs = edges(graph, args.package)
    level = {name: k for k, layer in enumerate(LAYERS) for name in layer}
    pkg_pairs = {(top_level(a, args.package), top_level(b, args.package)) for a, b in pairs}
    pkg_pairs = {(a, b) for a, b in pkg_pairs if a and b and a != b}
    unknown = sorted({p for pair in pkg_pairs for p in pair} - set(level))
    upward = sorted((a, b) for a, b in pairs
                    if (ta := top_level(a, args.package)) in level and (tb := top_level(b, args.package)) in level
                    and ta != tb and level[tb] >= level[ta])
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b in pkg_pairs:
        succ[a].add(b)
    pkg_cycles = strongly_connected({p for pair in pkg_pairs for p in pair}, succ)
    mod_cycles = sibling_cycles(pairs)
    print(f"modules: {len(graph.modules)}  import edges: {len(pairs)}  package edges: {len(pkg_pairs)}")
    print(f"package cycles (strongly connected groups): {len(pkg_cycles)}")
    for c in pkg_cycles:
        print("  " + " <-> ".join(c))
    print(f"sibling-module cycles: {len(mod_cycles)}")
    for c in mod_cycles:
        print("  " + " <-> ".join(c))
    print(f"upward or same-layer edges between packages: {len(upward)}")
    for a, b in upward:
        print(f"  {a} -> {b}")
    if unknown:
        print(f"packages not in LAYERS: {unknown}")
    return int(bool(pkg_cycles or mod_cycles or upward or unknown))


if __name__ == "__main__":
    sys.exit(main())
