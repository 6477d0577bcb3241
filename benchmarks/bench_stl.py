"""Time of the one-solid printable STL (manifold3d union) for typical designs.

    .venv/bin/python benchmarks/bench_stl.py                    # 5 generated designs (~80 struts/cell), 2x2x2
    .venv/bin/python benchmarks/bench_stl.py --n 3 --tess 3 3 3

Designs: the generated lattices (``generate_structures(200, seed)``) whose strut count is closest
to ``--struts``, at relative density 0.15, written as STL of a ``--tess`` block (scale 10).
Prints per design: time (best of ``--repeats``, wall and CPU of this process; the machine is
shared, so wall time can be several times the CPU time), triangles, watertight, bodies, solid
volume fraction vs. the relative density, and the same for the elementary octet.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from trussvae.design.export import export_stl
from trussvae.generation import elementary, generate_structures
from trussvae.viz.solid import solid_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5, help="number of generated designs")
    ap.add_argument("--struts", type=int, default=80, help="pick designs with about this many struts per cell")
    ap.add_argument("--tess", type=int, nargs=3, default=(2, 2, 2))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pool = [g.to_frame(relative_density=0.15) for g in generate_structures(200, seed=args.seed)]
    pool.sort(key=lambda f: abs(f.n_struts - args.struts))
    cases = [("octet", elementary("octet").to_frame(relative_density=0.15))]
    cases += [(f"design {k}", f) for k, f in enumerate(pool[:args.n])]
    tess = tuple(args.tess)
    export_stl(cases[0][1], Path(tempfile.gettempdir()) / "warmup.stl")  # imports, first-call overheads
    print(f"block {tess[0]}x{tess[1]}x{tess[2]} cells, scale 10, 16 sections, relative density 0.15")
    print(f"{'lattice':<10} {'struts':>6} {'wall s':>7} {'cpu s':>6} {'triangles':>9} {'watertight':>10} "
          f"{'bodies':>6} {'vol.frac':>8} {'frac/rho':>8}")
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in cases:
            best = (np.inf, np.inf)
            for _ in range(args.repeats):
                t, c = time.perf_counter(), time.process_time()
                path = export_stl(frame, Path(tmp) / "x.stl", tess, scale=10.0)
                best = min(best, (time.perf_counter() - t, time.process_time() - c))
            mesh = trimesh.load(path)
            rep = solid_report(mesh, frame, tess, 10.0)
            if name != "octet":
                walls.append(best[0])
                cpus.append(best[1])
            print(f"{name:<10} {frame.n_struts:>6} {best[0]:>7.2f} {best[1]:>6.2f} {rep['triangles']:>9} "
                  f"{str(rep['watertight']):>10} {rep['bodies']:>6} {rep['volume_fraction']:>8.4f} "
                  f"{rep['volume_fraction'] / rep['relative_density']:>8.3f}")
    print(f"designs: median {np.median(walls):.2f} s wall, {np.median(cpus):.2f} s CPU per STL (incl. writing it)")


if __name__ == "__main__":
    main()
