"""Benchmark: 13-point uniaxial-compression labels of generated lattices (relative density 0.15).

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 100 --jobs 1
    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 100 --jobs 2
    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 60 --bisection   # also locate instabilities

Times :func:`trussvae.fem.compression_labels` (the labelling path: no bisection of instabilities,
``n_jobs`` worker processes) after a JIT warm-up; per-structure statistics
(increments, Newton iterations) come from a separate single-process pass with ``--stats`` (same settings).
The CPU time (this process + the finished workers) gives a load-independent per-core rate: the
machine is shared, so the wall-clock rate depends on what else runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.fem.nonlinear import compression_labels, uniaxial_compression  # noqa: E402
from trussvae.generation import generate_structures  # noqa: E402


def _cpu_seconds():
    """CPU time of this process + finished child processes (the pool workers exit before it is read)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="number of generated structures")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (compression_labels n_jobs)")
    ap.add_argument("--seed", type=int, default=11, help="generate_structures seed")
    ap.add_argument("--rho", type=float, default=0.15, help="relative density")
    ap.add_argument("--bisection", action="store_true", help="locate instabilities (bifurcation_tol=0.02)")
    ap.add_argument("--stats", action="store_true", help="also report increments / iterations per structure")
    args = ap.parse_args()
    frames = [g.to_frame(relative_density=args.rho) for g in generate_structures(args.n, seed=args.seed)]
    kw = {"bifurcation_tol": 0.02} if args.bisection else {}
    compression_labels(frames[:1], max_strain=0.01)  # JIT warm-up (cached on disk after the first run)
    t, cpu0 = time.perf_counter(), _cpu_seconds()
    stress, ok, reasons = compression_labels(frames, n_jobs=args.jobs, **kw)
    wall, cpu = time.perf_counter() - t, _cpu_seconds() - cpu0
    nodes = np.array([f.n_nodes for f in frames])
    struts = np.array([f.n_struts for f in frames])
    print(f"{args.n} structures (seed {args.seed}, rho {args.rho}), {args.jobs} process(es)"
          f"{', bisection' if args.bisection else ''}: {args.n / wall:.2f} structures/s (wall {wall:.1f} s)")
    print(f"CPU time {1e3 * cpu / args.n:.0f} ms per structure = {args.n / cpu:.2f} structures per CPU-second "
          f"(load-independent estimate of the per-core rate; load average {os.getloadavg()[0]:.1f})")
    print(f"wall {1e3 * wall * args.jobs / args.n:.0f} ms per structure per process; "
          f"mean nodes {nodes.mean():.1f}, struts {struts.mean():.1f}")
    print(f"converged {ok.sum()}/{args.n}")
    for k in np.flatnonzero(~ok)[:10]:
        print(f"  #{k}: {reasons[k]}")
    if args.stats:
        res = [uniaxial_compression(fr, **({"bifurcation_tol": None, "tol": 1e-7} | kw)) for fr in frames]
        secs = np.array([r.seconds for r in res])
        print(f"per structure: mean {secs.mean() * 1e3:.1f} ms, median {np.median(secs) * 1e3:.1f} ms, "
              f"max {secs.max() * 1e3:.0f} ms; increments mean {np.mean([r.increments for r in res]):.1f}, "
              f"Newton iterations mean {np.mean([r.iterations for r in res]):.1f}")


if __name__ == "__main__":
    main()
