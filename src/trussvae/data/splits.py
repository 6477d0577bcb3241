"""Seeded train/val/test splits saved with the data set (written once, then reused).

Two modes (``data.split``):

``random``    by structure, as the paper did: every row is assigned independently (a topology's
              geometric variants can land in different splits).
``topology``  by topology, the strict reading: all rows of one topology go to one split. The
              topology of a row is the ``topology`` id its generator recorded (paper protocol);
              where there is none (our default generator) rows are grouped by their adjacency
              vector (identical adjacency rows = one topology), so the mode is defined for every
              store. Split sizes follow the fractions as closely as whole topologies allow.

The split file ``<store>/splits/split_<mode>_seed{seed}.npz`` holds ``train``, ``val``, ``test``
(int64 data-set row indices, sorted), ``n`` (data-set size), ``fractions`` and ``mode``. It covers
*all* rows of the data set, independent of which label set is used; rows whose labels failed are
dropped later by the data module, so the linear and nonlinear models share one split.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from trussvae.io.store import atomic_save_npz

log = logging.getLogger(__name__)

__all__ = ["make_split", "load_or_create_split", "split_path", "topology_groups", "SPLIT_MODES"]

STAGES = ("train", "val", "test")
SPLIT_MODES = ("random", "topology")


def _check(fractions, mode: str) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or np.any(f < 0) or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be 3 non-negative numbers summing to 1, got {list(fractions)}")
    if mode not in SPLIT_MODES:
        raise ValueError(f"data.split must be one of {list(SPLIT_MODES)}, got {mode!r}")
    return f


def topology_groups(structures: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) int64 topology group of every row: the recorded ``topology`` ids where present, else the
    index of the row's distinct adjacency vector."""
    if "topology" in structures:
        return np.asarray(structures["topology"], dtype=np.int64)
    adj = np.packbits(np.asarray(structures["adjacency"], dtype=bool), axis=1)
    return np.unique(adj, axis=0, return_inverse=True)[1].astype(np.int64).ravel()


def make_split(n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0, mode: str = "random",
               groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Partition of ``range(n)`` into train/val/test (sorted int64 index arrays).

    ``fractions`` must be three non-negative numbers summing to 1. ``random``: val and test sizes
    are rounded down, train takes the rest. ``topology`` (needs ``groups``, one id per row): the
    groups in a seeded random order fill train, then val, then test; a group goes to the split in
    which its first row would fall.
    """
    f = _check(fractions, mode)
    rng = np.random.default_rng(seed)
    n_val, n_test = int(n * f[1]), int(n * f[2])
    n_train = n - n_val - n_test
    if mode == "random":
        parts = np.split(rng.permutation(n), [n_train, n_train + n_val])
        return {s: np.sort(p).astype(np.int64) for s, p in zip(STAGES, parts)}
    if groups is None:
        raise ValueError("a topology split needs the topology group of every row (groups=...)")
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups: expected shape ({n},), got {groups.shape}")
    ids, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = rng.permutation(len(ids))
    start = np.cumsum(sizes[order]) - sizes[order]  # first row of each group in the filled order
    stage_of_group = np.empty(len(ids), dtype=np.int64)
    stage_of_group[order] = np.where(start < n_train, 0, np.where(start < n_train + n_val, 1, 2))
    stage = stage_of_group[inverse.ravel()]
    return {s: np.flatnonzero(stage == k).astype(np.int64) for k, s in enumerate(STAGES)}


def split_path(root: str | Path, seed: int, mode: str = "random") -> Path:
    if mode not in SPLIT_MODES:
        raise ValueError(f"data.split must be one of {list(SPLIT_MODES)}, got {mode!r}")
    return Path(root) / "splits" / f"split_{mode}_seed{int(seed)}.npz"


def load_or_create_split(root: str | Path, n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0, mode: str = "random",
                         groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The split of a data set of ``n`` rows: read from the store, or made and saved atomically.

    ``mode="topology"`` needs ``groups`` (:func:`topology_groups`) to make the split. Raises
    ValueError if a saved split exists for another data-set size, other fractions or another mode
    (the data set was extended, or the config changed): delete the file or pick another seed.
    """
    _check(fractions, mode)
    path = split_path(root, seed, mode)
    if path.is_file():
        with np.load(path) as z:
            split = {k: z[k] for k in z.files}
        saved_mode = str(split["mode"]) if "mode" in split else "random"
        if saved_mode != mode:
            raise ValueError(f"{path} holds a {saved_mode!r} split, but data.split={mode!r} was requested; "
                             "delete that file or choose another data.split_seed")
        if int(split["n"]) != n or not np.allclose(split["fractions"], fractions):
            raise ValueError(f"{path} was made for n={int(split['n'])}, fractions={split['fractions'].tolist()} "
                             f"but the data set now has n={n} and fractions={list(fractions)}; delete that "
                             "file to re-split, or choose another data.split_seed")
        if mode == "topology" and groups is not None:
            g = np.asarray(groups)
            held_out = np.concatenate([split["val"], split["test"]])
            if set(g[split["train"]].tolist()) & set(g[held_out].tolist()):
                raise ValueError(f"{path}: a topology occurs in train and in val/test; the data set changed since "
                                 "the split was made: delete that file to re-split")
        return {s: split[s] for s in STAGES}
    split = make_split(n, fractions, seed, mode, groups)
    atomic_save_npz(path, n=np.int64(n), fractions=np.asarray(fractions, np.float64), mode=np.str_(mode), **split)
    log.info("wrote %s split %s (%s)", mode, path, {s: len(v) for s, v in split.items()})
    return split
