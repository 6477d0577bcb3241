"""Accuracy and cost of the k-hop Rayleigh-Ritz stiffness estimate (:mod:`trussvae.fem.ritz`) against the FE.

    .venv/bin/python benchmarks/bench_ritz.py                              # 2,000 generated cells, hops 0-3
    .venv/bin/python benchmarks/bench_ritz.py --store /work/data/lattices_seed0 --n 20000

Structures: the first ``--n`` of a lattice store (``--store``) or ``generate_structures(--n, --seed)``, as
frames at the store's (default) relative density. For each number of hops it prints R^2 of each of the 9
orthotropic components against the exact homogenization (physical scale, the model's test metric), the
median relative error of the diagonal, and the cost per structure (best of ``--repeats``, one thread,
frames prebuilt) next to that of the exact FE (``homogenize_many``, same frames). This is the accuracy of
the physics feature of ``model.physics=ritz`` on its own, with no learning.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from trussvae.design_space.truss_graph import arrays_to_graph
from trussvae.fem import homogenize_many
from trussvae.fem.elasticity import ORTHOTROPIC_NAMES, orthotropic_components
from trussvae.fem.ritz import ritz_stiffness_many


def _frames(args):
    if args.store:
        from trussvae.data.physics import physics_fe_settings
        from trussvae.io.store import LatticeStore

        store = LatticeStore(args.store)
        s = store.load_structures()
        rho = physics_fe_settings(store.meta)["relative_density"]
        return [arrays_to_graph(a, o).to_frame(rho) for a, o in zip(s["adjacency"][:args.n], s["offsets"][:args.n])]
    from trussvae.generation import generate_structures

    return [g.to_frame() for g in generate_structures(args.n, seed=args.seed)]


def _best(repeats, fn):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=None, help="a lattice store (default: generated structures)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hops", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    frames = _frames(args)
    ritz_stiffness_many(frames[:2], 1)  # JIT outside the timings
    homogenize_many(frames[:2])
    t_fe, C = _best(args.repeats, lambda: homogenize_many(frames, errors="nan"))
    y = orthotropic_components(C)
    ok = np.all(np.isfinite(y), axis=1)
    y = y[ok]
    print(f"{len(frames)} structures ({int(ok.sum())} with FE stiffness); exact FE: {t_fe / len(frames) * 1e3:.3f} ms "
          "per structure")
    print("hops  ms/struct  " + "  ".join(f"{n:>6s}" for n in ORTHOTROPIC_NAMES) + "   med.rel.err(diag)")
    for h in args.hops:
        t, R = _best(args.repeats, lambda h=h: ritz_stiffness_many(frames, h))
        r = orthotropic_components(R)[ok]
        r2 = 1.0 - ((r - y) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
        diag = [0, 3, 5, 6, 7, 8]
        rel = np.median(np.abs(r[:, diag] - y[:, diag]) / np.abs(y[:, diag]))
        print(f"{h:4d}  {t / len(frames) * 1e3:9.3f}  " + "  ".join(f"{v:6.3f}" for v in r2) + f"   {rel:.4f}")


if __name__ == "__main__":
    main()
