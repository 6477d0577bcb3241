"""Benchmark: 13-point uniaxial-compression curves of generated lattices (relative density 0.15).

Usage: NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py [n_structures] [n_workers]
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.fem.nonlinear import uniaxial_compression  # noqa: E402
from trussvae.generation import generate_structures  # noqa: E402


def _run(frames):
    out = []
    for fr in frames:
        try:
            r = uniaxial_compression(fr, time_limit=60.0)
            out.append((r.status == "converged", r.seconds, r.increments, r.iterations, r.reason))
        except Exception as exc:  # noqa: BLE001
            out.append((False, 0.0, 0, 0, f"{type(exc).__name__}: {exc}"))
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    frames = [g.to_frame(relative_density=0.15) for g in generate_structures(n, seed=11)]
    _run(frames[:1])  # JIT warm-up (cached on disk after the first run)
    t = time.perf_counter()
    if workers == 1:
        res = _run(frames)
    else:
        with ProcessPoolExecutor(workers) as ex:
            parts = list(ex.map(_run, [frames[k::workers] for k in range(workers)]))
        res = [r for p in parts for r in p]
    wall = time.perf_counter() - t
    ok = np.array([r[0] for r in res])
    secs = np.array([r[1] for r in res])
    incs = np.array([r[2] for r in res])
    its = np.array([r[3] for r in res])
    nodes = np.array([f.n_nodes for f in frames])
    print(f"{n} structures, {workers} worker(s): {n / wall:.2f} structures/s (wall {wall:.1f} s)")
    print(f"per structure: mean {secs.mean() * 1e3:.1f} ms, median {np.median(secs) * 1e3:.1f} ms, "
          f"max {secs.max() * 1e3:.0f} ms; mean nodes {nodes.mean():.1f}")
    print(f"increments mean {incs.mean():.1f}, Newton iterations mean {its.mean():.1f}")
    print(f"converged {ok.sum()}/{n}")
    for k in np.flatnonzero(~ok)[:10]:
        print(f"  #{k}: {res[k][4]}")


if __name__ == "__main__":
    main()
