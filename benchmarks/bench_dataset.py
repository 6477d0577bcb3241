"""Throughput of the data-set pipeline: generation and linear FE labelling (structures per second).

    python benchmarks/bench_dataset.py            # 20,000 structures: 1 core, then 2 Dask workers
    python benchmarks/bench_dataset.py --n 4000   # quicker

Each configuration builds a fresh store with ``build_dataset`` and labels it with
``label_dataset`` (exactly what ``python homogenize.py`` does), and reports both stages
separately. Numba compilation is excluded (a warm-up runs first; compiled kernels are cached on
disk for the workers). The Dask figures include the LocalCluster start-up (~2 s per stage).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from trussvae.generation import build_dataset, generate_chunk
from trussvae.generation.label import label_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--chunk-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: JIT compile generator and FE kernels
        label_dataset(build_dataset(f"{tmp}/w", 50, seed=99, chunk_size=50, scheduler="sync", progress=False),
                      scheduler="sync", progress=False)
    generate_chunk(0, 10**6, 20)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, scheduler, workers in (("1 core (sync)", "sync", 1),
                                          (f"{args.workers} workers (Dask LocalCluster)", "local", args.workers)):
            t0, c0 = time.perf_counter(), time.process_time()
            store = build_dataset(f"{tmp}/{scheduler}", args.n, seed=0, chunk_size=args.chunk_size,
                                  scheduler=scheduler, n_workers=workers, progress=False)
            t1, c1 = time.perf_counter(), time.process_time()
            label_dataset(store, scheduler=scheduler, n_workers=workers, progress=False)
            t2, c2 = time.perf_counter(), time.process_time()
            rows.append((label, len(store), t1 - t0, t2 - t1, (c1 - c0, c2 - c1) if scheduler == "sync" else None))
    print(f"data-set pipeline throughput, n={args.n}, chunk_size={args.chunk_size}, "
          f"1-min load average at the end: {os.getloadavg()[0]:.1f}")
    for label, n, tg, tl, cpu in rows:
        print(f"  {label:<30s} generation {n / tg:7.0f} structures/s ({tg:6.1f} s)   "
              f"FE labels {n / tl:7.0f} structures/s ({tl:6.1f} s)   both {n / (tg + tl):7.0f} /s")
        if cpu is not None:  # CPU time of this process: the per-core rate, whatever else runs
            print(f"  {'  per core (CPU time)':<30s} generation {n / cpu[0]:7.0f} structures/s            "
                  f"FE labels {n / cpu[1]:7.0f} structures/s")


if __name__ == "__main__":
    main()
