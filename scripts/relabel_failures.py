"""Recompute the failed nonlinear labels of chunks made by an older solver revision that the current one extends.

    python scripts/relabel_failures.py /work/data/lattices_seed0 [--dry-run]

Solver revision 3 (``fem.nonlinear.SOLVER_REVISION``) differs from revision 2 only where revision 2 failed
(the rescue of an increment at the smallest step, docs/fem_nonlinear.md): every curve revision 2 converged is
the curve revision 3 gives. So a revision-2 chunk becomes a revision-3 chunk by recomputing its failed rows
alone. For every labelled chunk whose ``solver`` starts with one of :data:`EXTENDED` and that has failures,
this recomputes those rows with the data set's own label settings (meta.json), rewrites the chunk (rows that
still fail keep their new reason) and records ``solver`` = the current revision and ``relabelled`` =
``{"from_solver", "rows", "now_ok", "seconds"}`` in its JSON. Chunks of other revisions are reported and left
alone. A running labelling job may go on meanwhile (it writes other chunks).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.design_space.truss_graph import arrays_to_graph  # noqa: E402
from trussvae.fem.elasticity import LABEL_STRAINS  # noqa: E402
from trussvae.fem.nonlinear import SOLVER_REVISION  # noqa: E402
from trussvae.fem.settings import NONLINEAR, settings_from_meta  # noqa: E402
from trussvae.generation.label import reached_strain  # noqa: E402
from trussvae.io.store import LatticeStore  # noqa: E402

#: revisions whose converged curves the current revision reproduces (their failures alone differ)
EXTENDED = ("2:",)


def relabel_chunk(store: LatticeStore, fe, chunk: int) -> dict:
    """Recompute the failed rows of one labelled chunk and rewrite it; returns its ``relabelled`` record."""
    stats = store.chunk_stats(chunk, NONLINEAR)
    labels = store.read_label_chunk(NONLINEAR, chunk)
    rows = [int(f["row"]) for f in stats["failures"]]
    data = store.read_structure_chunk(chunk)
    t0 = time.perf_counter()
    reasons = {}
    frames, good = [], []
    for r in rows:
        try:
            frames.append(arrays_to_graph(data["adjacency"][r], data["offsets"][r]).to_frame(
                relative_density=fe.relative_density))
            good.append(r)
        except ValueError as exc:  # malformed structure: it stays a failure
            reasons[r] = f"{type(exc).__name__}: {exc}"
    stress, ok, why = fe.evaluate(frames) if frames else (np.zeros((0, len(LABEL_STRAINS))), [], [])
    for k, r in enumerate(good):
        labels["stress"][r] = stress[k]
        labels["ok"][r] = bool(ok[k])
        labels["max_strain"][r] = reached_strain(stress[k])[0]
        if not ok[k]:
            reasons[r] = why[k]
    record = {"from_solver": stats.get("solver"), "rows": rows, "now_ok": len(rows) - len(reasons),
              "seconds": round(time.perf_counter() - t0, 2)}
    stats = {**stats, "failures": [{"row": r, "reason": reasons[r]} for r in rows if r in reasons],
             "n_failed": int(stats["n_failed"]) - record["now_ok"], "solver": SOLVER_REVISION,
             "relabelled": record}
    store.write_label_chunk(NONLINEAR, chunk, stats, **labels)
    return record


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="data set with nonlinear labels")
    ap.add_argument("--dry-run", action="store_true", help="only list what would be recomputed")
    args = ap.parse_args(argv)
    store = LatticeStore(args.data)
    fe = settings_from_meta(store.meta, NONLINEAR)
    todo, other = [], {}
    for c in store.label_chunks(NONLINEAR):
        stats = store.chunk_stats(c, NONLINEAR)
        solver = stats.get("solver", "1 (unrecorded)")
        if solver == SOLVER_REVISION or not stats.get("failures"):
            continue
        if solver.startswith(EXTENDED):
            todo.append((c, len(stats["failures"])))
        else:
            other[c] = solver[:40]
    print(f"{len(todo)} chunk(s) with {sum(n for _, n in todo)} failed rows of revisions {EXTENDED} to recompute"
          f" with revision {SOLVER_REVISION[:2]}; left alone (other revisions): {other or 'none'}")
    if args.dry_run:
        return
    now_ok = 0
    for c, n in todo:
        rec = relabel_chunk(store, fe, c)
        now_ok += rec["now_ok"]
        print(f"chunk {c}: {rec['now_ok']}/{n} now converge ({rec['seconds']} s)", flush=True)
    labels_meta = store.meta.get("labels", {})
    if NONLINEAR in labels_meta:
        n_failed = sum(store.chunk_stats(c, NONLINEAR)["n_failed"] for c in store.label_chunks(NONLINEAR))
        store.update_meta(labels={**labels_meta, NONLINEAR: {**labels_meta[NONLINEAR], "n_failed": int(n_failed)}})
    print(f"done: {now_ok} of {sum(n for _, n in todo)} failed labels recomputed to converged curves")


if __name__ == "__main__":
    main()
