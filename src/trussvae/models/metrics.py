"""Evaluation metrics of the VAE (reconstruction, property prediction, generative validity).

Per-batch functions return per-sample values, so they can be averaged over an epoch (and across
devices) by ``torchmetrics`` aggregators in the LightningModule.

- adjacency accuracy: fraction of the 351 upper-triangular entries predicted correctly
  (threshold 0.5 on the probability);
- exact topology: the whole 351-vector is right;
- node R^2 (x, y, z): positions of the *true* active nodes, reconstructed offsets mapped to
  natural positions by ``octant.positions_from_offsets`` (fixed coordinates included, as in the
  paper); ``node_r2_dof`` is the stricter R^2 over the free offsets of active nodes only;
- property R^2 per component, on the normalised and on the physical scale; NRMSE (RMSE / range
  of the targets) is also logged (the paper uses it for the nonlinear curves);
- validity: ``n`` latents z ~ N(0, I) decoded at threshold 0.5; ``raw`` = fraction valid as
  decoded, ``repaired`` = fraction valid after :func:`trussvae.models.repair.repair`,
  ``novel_unique`` = among the valid (repaired) ones, the fraction whose canonical hash is not in
  the training set and is the first occurrence among the samples.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from trussvae.models.repair import repair

__all__ = ["adjacency_accuracy", "exact_topology", "validity_report", "r2_numpy"]


def adjacency_accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 351) logits, (B, 351) 0/1 -> (B,) fraction of correct entries."""
    return ((logits > 0) == (target > 0.5)).float().mean(dim=-1)


def exact_topology(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, 351) logits, (B, 351) 0/1 -> (B,) 1.0 where every entry is right."""
    return ((logits > 0) == (target > 0.5)).all(dim=-1).float()


def r2_numpy(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-column R^2 of (n, k) arrays."""
    ss_res = ((target - pred) ** 2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)


def validity_report(graphs: Iterable, train_hashes: set[str] | None = None) -> dict[str, float]:
    """Validity of decoded :class:`~trussvae.design_space.TrussGraph` samples (see module docstring).

    Returns ``raw``, ``repaired``, ``novel_unique`` (NaN when nothing is valid; novelty counts
    every valid sample when ``train_hashes`` is None) and ``n``.
    """
    graphs = list(graphs)
    n = len(graphs)
    n_raw = 0
    valid = []
    for g in graphs:
        if g.n_struts and g.is_valid():
            n_raw += 1
            valid.append(g)
            continue
        r = repair(g)
        if r.n_struts and r.is_valid():
            valid.append(r)
    seen: set[str] = set()
    novel_unique = 0
    for g in valid:
        h = g.canonical_hash()
        if h not in seen and (train_hashes is None or h not in train_hashes):
            novel_unique += 1
        seen.add(h)
    return {"raw": n_raw / max(n, 1), "repaired": len(valid) / max(n, 1),
            "novel_unique": novel_unique / len(valid) if valid else float("nan"), "n": float(n)}
