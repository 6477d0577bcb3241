"""Build a structures data set in a :class:`~trussvae.io.store.LatticeStore` (resumable, parallel).

Chunk ``c`` holds the ``chunk_size`` structures generated from ``(seed, c)``; chunks are
independent, so workers build them concurrently and a resumed build only makes the missing
ones. The data set is the first ``n`` structures, in chunk order, that are unique across
chunks (``index.npz``); if cross-chunk duplicates leave fewer than ``n``, more chunks are made.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np

from trussvae.generation.generator import GeneratorConfig, generate_chunk, provenance
from trussvae.io.store import LatticeStore
from trussvae.parallel import run_tasks

log = logging.getLogger(__name__)

__all__ = ["build_dataset"]


def _build_chunk(root: str, seed: int, chunk_size: int, config: dict, chunk_id: int) -> dict:
    chunk = generate_chunk(seed, chunk_id, chunk_size, GeneratorConfig.from_dict(config))
    LatticeStore(root).write_structure_chunk(chunk_id, chunk)
    return chunk.stats


def _unique_index(store: LatticeStore, chunks: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    seen: set[str] = set()
    out_c, out_r = [], []
    for c in chunks:
        hashes = store.read_structure_chunk(c)["hashes"]
        for r, h in enumerate(hashes):
            if h not in seen:
                seen.add(h)
                out_c.append(c)
                out_r.append(r)
                if len(out_c) == n:
                    return np.array(out_c), np.array(out_r)
    return np.array(out_c, dtype=np.int64), np.array(out_r, dtype=np.int64)


def build_dataset(root: str | Path, n: int, seed: int = 0, chunk_size: int = 1000,
                  config: GeneratorConfig | None = None, scheduler: str = "local",
                  n_workers: int | None = None, progress: bool = True) -> LatticeStore:
    """Generate ``n`` unique valid structures into the store at ``root`` (created or resumed).

    Returns the opened store. Re-running with the same arguments after a kill finishes the
    missing chunks only; with a larger ``n`` it extends the data set (same seed and settings).
    """
    if int(n) <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if int(chunk_size) <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    config = config or GeneratorConfig()
    meta = {"design_space": provenance(seed, chunk_size, config)["design_space"],
            "generator": provenance(seed, chunk_size, config)}
    store = LatticeStore.create_or_open(root, meta)
    n_chunks = math.ceil(n / chunk_size)
    while True:
        done = set(store.structure_chunks())
        todo = [c for c in range(n_chunks) if c not in done]
        if todo:
            log.info("generating %d chunk(s) of %d structures (%d already done)", len(todo), chunk_size, len(done))
            task = partial(_build_chunk, str(store.root), int(seed), int(chunk_size), config.to_dict())
            run_tasks(task, todo, scheduler=scheduler, n_workers=n_workers, desc="structures", progress=progress)
        chunk_ids, rows = _unique_index(store, list(range(n_chunks)), n)
        if len(chunk_ids) >= n:
            break
        n_chunks += max(1, math.ceil((n - len(chunk_ids)) / chunk_size))
    store.write_index(chunk_ids, rows)
    rejections: Counter = Counter()
    for c in range(n_chunks):
        rejections.update(store.chunk_stats(c).get("rejections", {}))
    store.update_meta(n=int(n), n_chunks=int(n_chunks), rejections=dict(sorted(rejections.items())))
    return store
