"""Throughput of the linear FE homogenization (structures per second, 1 and 2 cores).

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fem.py            # 10,000
    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fem.py --quick    # 500

Frames come from the design-space generator (``trussvae.generation.generate_structures``) at
relative density 0.15 when it is importable, otherwise from the reference catalogue and from
random mirror-symmetric cells built here. Compile time (first call) and frame construction are
excluded from the rates; each timing is the best of ``--repeats`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.fem import PeriodicFrame, homogenize_many  # noqa: E402
from trussvae.fem import linear as fem_linear  # noqa: E402
from trussvae.fem.blas import single_threaded_blas  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "tests/data/reference/lattice_catalogue_abaqus.json"


def mirrored_cells(n: int, rng: np.random.Generator):
    """Random design-space-like cells: octant points mirrored about the cell mid-planes."""
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    out = []
    while len(out) < n:
        pts = rng.uniform(0.05, 0.45, size=(int(rng.integers(3, 8)), 3))
        nodes = np.mod([np.where(np.array(m, bool), -p, p) for p in pts
                        for m in itertools.product((0, 1), repeat=3)], 1.0)
        d = np.linalg.norm(nodes[None, :, None] + shifts[None, None] - nodes[:, None, None], axis=-1)
        i, j, s = np.nonzero((d < 0.36) & (d > 1e-9))
        keep = (i < j) | ((i == j) & (np.arange(27)[s] > 13))
        if not keep.any():
            continue
        frame = PeriodicFrame(np.eye(3), nodes, np.c_[i[keep], j[keep]], shifts[s[keep]], 0.02)
        if frame.periodic_connectivity()[:2] == (1, 3):
            out.append(frame.with_relative_density(0.15))
    return out


def reference_cells(density: float):
    data = json.loads(REFERENCE.read_text())
    out = []
    for lat in data["lattices"]:
        e = np.asarray(lat["edges"], dtype=np.int64)
        frame = PeriodicFrame(lat["cell"], lat["nodes"], e[:, :2], e[:, 2:], 0.01)
        out.append(frame.with_relative_density(density))
    return out


def make_frames(n: int, seed: int, density: float, source: str):
    if source == "generator":
        try:
            from trussvae.generation import generate_structures
        except ImportError:
            source = "fallback"
        else:
            t = time.perf_counter()
            graphs = generate_structures(n, seed)
            frames = [g.to_frame(relative_density=density) for g in graphs]
            print(f"frames: {len(frames)} from generate_structures(n={n}, seed={seed}) "
                  f"in {time.perf_counter() - t:.1f} s (not counted)")
            return frames
    rng = np.random.default_rng(seed)
    ref = reference_cells(density)
    frames = [ref[k % len(ref)] for k in range(n // 4)] + mirrored_cells(n - n // 4, rng)
    print(f"frames: {len(frames)} = reference catalogue (repeated) + random mirrored cells")
    return frames


def best_of(repeats: int, fn):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="500 structures, 2 repeats")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--density", type=float, default=0.15)
    ap.add_argument("--beam", default="timoshenko")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--source", choices=("generator", "fallback"), default="generator")
    args = ap.parse_args(argv)
    n, repeats = (500, 2) if args.quick else (args.n, args.repeats)
    frames = make_frames(n, args.seed, args.density, args.source)
    nodes = np.array([f.n_nodes for f in frames])
    struts = np.array([f.n_struts for f in frames])
    print(f"nodes  min/median/max {nodes.min()}/{int(np.median(nodes))}/{nodes.max()}, "
          f"struts {struts.min()}/{int(np.median(struts))}/{struts.max()}, "
          f"reduced DOFs median {6 * int(np.median(nodes)) - 3}")
    homogenize_many(frames[:20], beam=args.beam, errors="nan")  # compile / load the cache

    # time split on one core (direct calls of the stages of homogenize_many)
    m = len(frames)
    out = (np.empty((m, 6, 6)), np.zeros(m, np.int64), np.zeros(m))
    timo = 1 if args.beam == "timoshenko" else 0
    t_topo = best_of(repeats, lambda: [fem_linear.mechanism_reason(f) for f in frames])
    t_pack = best_of(repeats, lambda: fem_linear.pack_frames(frames))
    packed = fem_linear.pack_frames(frames)

    def stage(k):
        with single_threaded_blas():
            fem_linear.solve_batch(0, m, *packed, 1.0, 0.3, timo, fem_linear.PIVOT_TOL, k,
                                   fem_linear._DPOTRF, fem_linear._DTRTRS, *out)

    t_stage = [best_of(repeats, lambda k=k: stage(k)) for k in (1, 2, 3)]
    total = {}
    for n_jobs in (1, 2):
        total[n_jobs] = best_of(
            repeats, lambda j=n_jobs: homogenize_many(frames, beam=args.beam, errors="nan", n_jobs=j))
    failures = sum(r is not None for r in homogenize_many(frames, errors="nan", return_errors=True)[1])
    us = 1e6 / m
    print(f"\nbeam={args.beam}, density={args.density}, {m} structures, {failures} mechanisms")
    print("time split per structure (1 core):")
    print(f"  build     topology check  {t_topo * us:7.1f} us")
    print(f"  build     pack arrays     {t_pack * us:7.1f} us")
    print(f"  assemble  geometry+K,F    {t_stage[0] * us:7.1f} us")
    print(f"  factorise dpotrf          {(t_stage[1] - t_stage[0]) * us:7.1f} us")
    print(f"  solve     dtrtrs + C      {(t_stage[2] - t_stage[1]) * us:7.1f} us")
    rest = total[1] - t_topo - t_pack - t_stage[2]
    print(f"  other     checks, NaN/eig {max(rest, 0.0) * us:7.1f} us")
    for n_jobs, t in total.items():
        print(f"homogenize_many(n_jobs={n_jobs}): {m / t:8.0f} structures/s total, "
              f"{m / t / n_jobs:8.0f} per core  ({t:.2f} s)")


if __name__ == "__main__":
    main()
