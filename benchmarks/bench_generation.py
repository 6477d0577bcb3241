"""Throughput of the data-set generator (unique valid structures per second).

    python benchmarks/bench_generation.py            # 20,000 structures, 1 core and 2 workers
    python benchmarks/bench_generation.py --n 4000   # quicker

Numba compilation is excluded (a warm-up chunk runs first, and compiled kernels are cached on
disk for the workers). The 2-worker figure includes the Dask LocalCluster start-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from trussvae.generation import build_dataset, generate_chunk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    generate_chunk(0, 10**6, 100)  # warm-up: JIT compile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, scheduler, workers in (("1 core (sync)", "sync", 1),
                                          (f"{args.workers} workers (Dask LocalCluster)", "local", args.workers)):
            t0 = time.perf_counter()
            store = build_dataset(f"{tmp}/{scheduler}", args.n, seed=0, chunk_size=args.chunk_size,
                                  scheduler=scheduler, n_workers=workers, progress=False)
            dt = time.perf_counter() - t0
            rows.append((label, len(store), dt))
    print(f"generator throughput, n={args.n}, chunk_size={args.chunk_size}")
    for label, n, dt in rows:
        print(f"  {label:<34s} {n:>8d} structures in {dt:7.2f} s  = {n / dt:8.0f} structures/s")


if __name__ == "__main__":
    main()
