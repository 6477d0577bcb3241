"""Seeded train/val/test splits saved with the data set (written once, then reused).

The split file ``<store>/splits/split_seed{seed}.npz`` holds ``train``, ``val``, ``test``
(int64 data-set row indices, sorted), ``n`` (data-set size) and ``fractions``. It covers *all*
rows of the data set, independent of which label set is used; rows whose labels failed are
dropped later by the data module, so the linear and nonlinear models share one split.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from trussvae.io.store import atomic_save_npz

log = logging.getLogger(__name__)

__all__ = ["make_split", "load_or_create_split", "split_path"]

STAGES = ("train", "val", "test")


def make_split(n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, np.ndarray]:
    """Random partition of ``range(n)`` into train/val/test (sorted int64 index arrays).

    ``fractions`` must be three non-negative numbers summing to 1; val and test sizes are
    rounded down, train takes the rest.
    """
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(f < 0) or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be 3 non-negative numbers summing to 1, got {list(fractions)}")
    perm = np.random.default_rng(seed).permutation(n)
    n_val, n_test = int(n * f[1]), int(n * f[2])
    n_train = n - n_val - n_test
    parts = np.split(perm, [n_train, n_train + n_val])
    return {s: np.sort(p).astype(np.int64) for s, p in zip(STAGES, parts)}


def split_path(root: str | Path, seed: int) -> Path:
    return Path(root) / "splits" / f"split_seed{int(seed)}.npz"


def load_or_create_split(root: str | Path, n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, np.ndarray]:
    """The split of a data set of ``n`` rows: read from the store, or made and saved atomically.

    Raises ValueError if a saved split exists for another data-set size or other fractions
    (the data set was extended, or the config changed): delete the file or pick another seed.
    """
    path = split_path(root, seed)
    if path.is_file():
        with np.load(path) as z:
            split = {k: z[k] for k in z.files}
        if int(split["n"]) != n or not np.allclose(split["fractions"], fractions):
            raise ValueError(f"{path} was made for n={int(split['n'])}, fractions={split['fractions'].tolist()} "
                             f"but the data set now has n={n} and fractions={list(fractions)}; delete that "
                             "file to re-split, or choose another data.split_seed")
        return {s: split[s] for s in STAGES}
    split = make_split(n, fractions, seed)
    atomic_save_npz(path, n=np.int64(n), fractions=np.asarray(fractions, np.float64), **split)
    log.info("wrote split %s (%s)", path, {s: len(v) for s, v in split.items()})
    return split
