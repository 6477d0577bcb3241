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
- validity of samples from the prior: :mod:`trussvae.models.validity`;
- admissible fraction: :func:`admissible_fraction`, the fraction of the predictor's stiffness
  predictions at prior samples z ~ N(0, I) that are positive definite
  (:func:`trussvae.models.admissible.is_admissible`).
"""

from __future__ import annotations

import numpy as np
import torch

from trussvae.models.admissible import is_admissible

__all__ = ["adjacency_accuracy", "exact_topology", "r2_numpy", "admissible_fraction"]


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


@torch.no_grad()
def admissible_fraction(net, n: int = 100_000, seed: int = 0, batch_size: int = 16384) -> float:
    """Fraction of ``n`` prior samples z ~ N(0, I) (CPU generator seeded with ``seed``) whose predicted
    stiffness (:meth:`~trussvae.models.TrussVAENet.predict_physical`, linear target) is positive
    definite. Cheap: the predictor only."""
    if net.target != "linear":
        raise ValueError(f"the admissible fraction is defined for the linear (stiffness) target, not {net.target!r}")
    if int(n) < 1:
        raise ValueError(f"need n >= 1 samples, got {n}")
    g = torch.Generator().manual_seed(int(seed))
    ok = 0
    for start in range(0, int(n), batch_size):
        z = net.sample_latent(min(batch_size, int(n) - start), "normal", generator=g)
        ok += int(is_admissible(net.predict_physical(z).cpu().numpy()).sum())
    return ok / int(n)
