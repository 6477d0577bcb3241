"""`TrussDataModule`: dense in-memory tensors of a lattice store, split, normalised, batched.

Batches are dicts of dense tensors, sliced from the in-memory arrays by a sampler that yields
whole index tensors (no per-sample ``__getitem__`` + default collate, which cost ~25% of a
training step)::

    adj      (B, 351) float32 0/1   upper-triangular adjacency (``octant.TRIU_I/J`` order)
    offsets  (B, 27)  float32       compact node offsets (0 for inactive nodes)
    y        (B, k)   float32       normalised labels (see :mod:`trussvae.data.normalization`)
    index    (B,)     int64         data-set row
    phys     (B, 9)   float32       only with ``physics="ritz"``: the structure's 2-hop Rayleigh-Ritz
                                    stiffness estimate (physical orthotropic components,
                                    :mod:`trussvae.data.physics`), cached beside the data

The GNN encoder builds its graph from ``adj``/``offsets`` inside the model
(:func:`trussvae.data.graphs.dense_to_graph`); :meth:`TrussDataModule.pyg_dataset` gives the
same graphs as a list of ``torch_geometric.data.Data`` for other uses.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from trussvae.data.normalization import LabelNormalizer, fit_normalizer
from trussvae.data.physics import (
    CURVE_FEATURE_KINDS,
    PHYSICS_KINDS,
    buckling_fe_settings,
    load_or_compute_buckling,
    load_or_compute_ritz,
    physics_fe_settings,
)
from trussvae.data.splits import SPLIT_MODES, load_or_create_split, topology_groups
from trussvae.fem.elasticity import LABEL_STRAINS, ORTHOTROPIC_NAMES
from trussvae.io.store import LatticeStore, StoreError

log = logging.getLogger(__name__)

__all__ = ["TrussDataModule", "BatchIndexSampler", "DenseBatchDataset", "LABEL_KEYS", "LABEL_NAMES"]

#: which array of which label set is the model target
LABEL_KEYS = {"linear": ("linear", "orthotropic"), "nonlinear": ("nonlinear", "stress")}
#: names of the target columns (conventions: :mod:`trussvae.fem.elasticity`)
LABEL_NAMES = {
    "linear": list(ORTHOTROPIC_NAMES),
    "nonlinear": [f"sigma_{i:02d}" for i in range(len(LABEL_STRAINS))],
}


class BatchIndexSampler(Sampler):
    """Yields (B,) int64 index tensors; shuffles from ``seed + epoch``.

    Lightning calls :meth:`set_epoch` before every epoch (so a resumed run sees the same order);
    used on its own, each new iteration advances the epoch.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False):
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
            self.epoch += 1
        else:
            order = torch.arange(self.n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start:start + self.batch_size]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


class DenseBatchDataset(Dataset):
    """Tensors held in memory; ``ds[index_tensor]`` returns the batch dict for those rows."""

    def __init__(self, **tensors: torch.Tensor):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v[idx] for k, v in self.tensors.items()}


class TrussDataModule(pl.LightningDataModule):
    """Data of one lattice store for the VAE.

    Args:
        data_dir: the store directory (made by ``python homogenize.py``).
        target: ``"linear"`` (9 orthotropic stiffness components) or ``"nonlinear"`` (13 stresses).
        batch_size: global batch size (divided by the number of devices under DDP). Default 512.
        split_fractions: train/val/test fractions (default 0.8/0.1/0.1).
        split_seed: seed of the split; saved as ``splits/split_<split>_seed{seed}.npz``.
        split: ``"random"`` (by structure, the paper) | ``"topology"`` (every variant of a topology in
            one split), see :mod:`trussvae.data.splits`.
        label_transform: ``"none"`` (default) | ``"auto"`` | ``"log"`` (see :mod:`trussvae.data.normalization`).
        shuffle_seed: seed of the per-epoch shuffling of the training batches.
        num_workers, pin_memory: passed to the DataLoaders (0 workers is fastest for in-memory data).
        physics: ``"none"`` (default) | ``"ritz"``: add the ``phys`` features (``model.physics``).
        physics_hops: relaxation hops of the Ritz features (default 2).
        curve_features: ``"none"`` (default) | ``"buckling"`` | ``"buckling2"`` | ``"redistribution"`` |
            ``"postbuckling"``: append the 4 (8, 36, 62) curve features of the rows with valid labels to
            ``phys`` (``model.curve_features``; nonlinear target with physics ritz; cached row by row in
            ``<data_dir>/features/<kind>.npz``, ~10 (40, 42, 45) ms a new structure).
        max_train: train on a random subset of ``max_train`` of the training rows with valid labels
            (a prefix of one permutation seeded by ``split_seed``, so smaller subsets are nested in
            larger ones), for learning curves over the data size; validation and test splits are
            unchanged. ``None`` (default): all.
        max_chunks: use only the structures of the store's first ``max_chunks`` chunks (the others are
            dropped like rows without labels). Labels are computed chunk by chunk in chunk order (the
            nonlinear labels of ``python homogenize.py fem=nonlinear label_rows=...``), so this is every split
            exactly as it was when ``max_chunks`` chunks were labelled: runs trained at different label
            counts are tested on the same curves while the labelling goes on. The split itself is that of
            the whole store. ``None`` (default): all.
    """

    def __init__(self, data_dir: str, target: str = "linear", batch_size: int = 512,
                 split_fractions=(0.8, 0.1, 0.1), split_seed: int = 0, label_transform: str = "none",
                 shuffle_seed: int = 0, num_workers: int = 0, pin_memory: bool = False, split: str = "random",
                 physics: str = "none", physics_hops: int = 2, max_train: int | None = None,
                 curve_features: str = "none", max_chunks: int | None = None):
        super().__init__()
        if physics not in PHYSICS_KINDS:
            raise ValueError(f"data.physics must be one of {list(PHYSICS_KINDS)}, got {physics!r}")
        self.physics, self.physics_hops = physics, int(physics_hops)
        self.curve_features = self._check_curve_features(curve_features, physics, target)
        if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, int | np.integer)
                                      or max_train < 2):
            raise ValueError(f"data.max_train must be an integer >= 2 or null (all), got {max_train!r}")
        self.max_train = None if max_train is None else int(max_train)
        if max_chunks is not None and (isinstance(max_chunks, bool) or not isinstance(max_chunks, int | np.integer)
                                       or max_chunks < 1):
            raise ValueError(f"data.max_chunks must be an integer >= 1 or null (all), got {max_chunks!r}")
        self.max_chunks = None if max_chunks is None else int(max_chunks)
        #: FE settings of the physics features (those of the data set's labels), set by setup()
        self.physics_fe: dict | None = None
        #: settings of the buckling features (those of the data set's nonlinear labels), set by setup()
        self.curve_fe: dict | None = None
        if target not in LABEL_KEYS:
            raise ValueError(f"data.target must be one of {list(LABEL_KEYS)}, got {target!r}")
        if split not in SPLIT_MODES:
            raise ValueError(f"data.split must be one of {list(SPLIT_MODES)}, got {split!r}")
        self.split = split
        self.data_dir = str(data_dir)
        self.target = target
        self.batch_size = int(batch_size)
        self.split_fractions = tuple(float(f) for f in split_fractions)
        self.split_seed = int(split_seed)
        self.label_transform = label_transform
        self.shuffle_seed = int(shuffle_seed)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.normalizer: LabelNormalizer | None = None
        self._given_normalizer: LabelNormalizer | None = None
        self.datasets: dict[str, DenseBatchDataset] = {}
        self.train_hashes: set[str] = set()
        self.design_space_version: str | None = None

    # ------------------------------------------------------------------ loading
    @property
    def label_names(self) -> list[str]:
        return LABEL_NAMES[self.target]

    @property
    def n_properties(self) -> int:
        return len(self.label_names)

    def _open(self) -> tuple[dict, np.ndarray, np.ndarray]:
        root = Path(self.data_dir)
        if not (root / "meta.json").is_file():
            raise FileNotFoundError(f"no lattice store at {root}; build it with `python homogenize.py "
                                    f"out={root}` (see conf/homogenize.yaml)")
        store = LatticeStore(root)
        label_set, key = LABEL_KEYS[self.target]
        try:  # nonlinear labels are usually computed for a subset (homogenize.py fem=nonlinear label_rows=k)
            labels = store.load_labels(label_set, allow_partial=self.target == "nonlinear")
        except StoreError as exc:
            fem = " fem=nonlinear" if self.target == "nonlinear" else ""
            raise FileNotFoundError(f"{root} has no complete {label_set!r} labels ({exc}); compute them with "
                                    f"`python homogenize.py out={root}{fem}`") from exc
        self.design_space_version = store.meta.get("design_space")
        self.physics_fe = physics_fe_settings(store.meta)
        self.curve_fe = buckling_fe_settings(store.meta)
        structures = store.load_structures()
        y = np.asarray(labels[key], dtype=np.float64).reshape(len(structures["hashes"]), -1)
        ok = np.asarray(labels.get("ok", np.ones(len(y), bool)), bool) & np.all(np.isfinite(y), axis=1)
        return structures, y, ok

    def use_normalizer(self, normalizer: LabelNormalizer) -> None:
        """Normalise the labels with ``normalizer`` (e.g. a trained checkpoint's) instead of fitting one
        on the training split. Call before :meth:`setup`."""
        if self.datasets:
            raise RuntimeError("use_normalizer() must be called before setup()")
        self._given_normalizer = normalizer

    def use_physics(self, physics: str, hops: int, curve_features: str = "none") -> None:
        """Give the batches the physics features a (trained) model expects. Call before :meth:`setup`."""
        if self.datasets:
            raise RuntimeError("use_physics() must be called before setup()")
        if physics not in PHYSICS_KINDS:
            raise ValueError(f"physics must be one of {list(PHYSICS_KINDS)}, got {physics!r}")
        self.curve_features = self._check_curve_features(curve_features, physics, self.target)
        self.physics, self.physics_hops = physics, int(hops)

    @staticmethod
    def _check_curve_features(curve_features: str, physics: str, target: str) -> str:
        if curve_features not in CURVE_FEATURE_KINDS:
            raise ValueError(f"data.curve_features must be one of {list(CURVE_FEATURE_KINDS)}, got {curve_features!r}")
        if curve_features != "none" and (physics != "ritz" or target != "nonlinear"):
            raise ValueError(f"data.curve_features={curve_features} extends the Ritz features of the nonlinear "
                             f"target: it needs data.physics=ritz and data.target=nonlinear, got physics={physics!r}, "
                             f"target={target!r}")
        return curve_features

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:  # already set up (fit then test reuse the same tensors)
            return
        structures, y, ok = self._open()
        n = len(y)
        if self.max_chunks is not None:
            chunk = LatticeStore(self.data_dir).index()[0]
            if self.max_chunks > chunk.max() + 1:
                raise ValueError(f"data.max_chunks={self.max_chunks} but {self.data_dir} has only "
                                 f"{chunk.max() + 1} chunks")
            ok &= chunk < self.max_chunks
        groups = topology_groups(structures) if self.split == "topology" else None
        split = load_or_create_split(self.data_dir, n, self.split_fractions, self.split_seed, self.split, groups)
        split = {s: idx[ok[idx]] for s, idx in split.items()}
        if self.max_train is not None:
            if self.max_train > len(split["train"]):
                raise ValueError(f"data.max_train={self.max_train} but {self.data_dir} has only "
                                 f"{len(split['train'])} training rows with valid {self.target} labels")
            keep = np.random.default_rng(self.split_seed).permutation(len(split["train"]))[:self.max_train]
            split["train"] = np.sort(split["train"][keep])
        if len(split["train"]) < 2:
            raise ValueError(f"{self.data_dir}: only {len(split['train'])} training rows with valid labels")
        self.normalizer = self._given_normalizer or fit_normalizer(y[split["train"]], self.label_transform)
        y_norm = torch.as_tensor(self.normalizer.normalize(y), dtype=torch.float32)
        adj = torch.as_tensor(structures["adjacency"], dtype=torch.float32)
        off = torch.as_tensor(structures["offsets"], dtype=torch.float32)
        extra = {}
        if self.physics == "ritz":
            feats = load_or_compute_ritz(self.data_dir, structures["adjacency"], structures["offsets"],
                                         self.physics_hops, self.physics_fe)
            if self.curve_features != "none":  # only the rows that are used: ~10 (40) ms each, cached
                used = np.concatenate(list(split.values()))
                feats = np.hstack([feats, load_or_compute_buckling(self.data_dir, structures["adjacency"],
                                                                   structures["offsets"], self.curve_fe, used,
                                                                   kind=self.curve_features)])
            extra["phys"] = torch.as_tensor(np.nan_to_num(feats, nan=0.0), dtype=torch.float32)
        for s, idx in split.items():
            t = torch.as_tensor(idx)
            self.datasets[s] = DenseBatchDataset(adj=adj[t], offsets=off[t], y=y_norm[t], index=t,
                                                 **{k: v[t] for k, v in extra.items()})
        self.train_hashes = set(structures["hashes"][split["train"]].tolist())
        log.info("data %s: %s rows (%d without valid %s labels dropped)", self.data_dir,
                 {s: len(v) for s, v in split.items()}, int((~ok).sum()), self.target)

    # ------------------------------------------------------------------ loaders
    def _per_device_batch(self) -> int:
        world = self.trainer.world_size if self.trainer is not None else 1
        if self.batch_size % world:
            raise ValueError(f"batch_size {self.batch_size} is not divisible by the number of devices {world}")
        return self.batch_size // world

    def _loader(self, stage: str, shuffle: bool) -> DataLoader:
        ds = self.datasets[stage]
        sampler = BatchIndexSampler(len(ds), self._per_device_batch(), shuffle, self.shuffle_seed)
        return DataLoader(ds, sampler=sampler, batch_size=None, num_workers=self.num_workers,
                          pin_memory=self.pin_memory, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def pyg_dataset(self, stage: str = "train") -> list:
        """The ``stage`` split as a list of ``torch_geometric.data.Data`` (see :mod:`trussvae.data.graphs`)."""
        from trussvae.data.graphs import to_pyg_data

        t = self.datasets[stage].tensors
        return [to_pyg_data(a, o, y) for a, o, y in zip(t["adj"], t["offsets"], t["y"])]
