"""Label normalisation fitted on the training split: optional log, then per-component z-score.

``y_norm = (T(y) - mean) / std`` with ``T = log`` on the components flagged in ``log_mask``
and the identity elsewhere. The statistics are plain lists so they live in the model's
hyper-parameters (and hence in every checkpoint).

Default: ``"none"`` (plain z-score). Measured (docs/model.md): on 5,000 FE-labelled lattices the
log transform gave *lower* physical-scale R^2 (the paper's metric) for every component, because
it spends capacity on relative accuracy of the most compliant lattices. ``"auto"`` remains for
when relative error matters (e.g. inverse design of compliant lattices).

What "auto" does and why it logs only some components: the diagonal stiffness components (C1111, C2222, C3333,
C2323, C3131, C1212) are strictly positive and span two to three orders of magnitude across
the data set (paper Fig. 1d: 1e-5..1e-2 E_s), so on a linear scale the few stiff lattices
dominate the MSE and the compliant ones are predicted as ~0. The off-diagonal components can be
zero or negative, so they stay linear. ``auto`` logs a component when its training minimum is
> 0 and max/min > ``log_ratio`` (default 5). See docs/model.md for the measurement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

__all__ = ["LabelNormalizer", "fit_normalizer"]


@dataclass(frozen=True)
class LabelNormalizer:
    """Per-component transform; ``mean``/``std``/``log_mask`` have one entry per label component."""

    mean: list[float]
    std: list[float]
    log_mask: list[bool]

    def as_dict(self) -> dict:
        return asdict(self)

    def _tensors(self, like: torch.Tensor):
        kw = {"dtype": like.dtype, "device": like.device}
        return (torch.tensor(self.mean, **kw), torch.tensor(self.std, **kw),
                torch.tensor(self.log_mask, dtype=torch.bool, device=like.device))

    def normalize(self, y):
        """(…, k) physical labels -> normalised (numpy in, numpy out; torch in, torch out)."""
        if isinstance(y, np.ndarray):
            t = np.where(np.asarray(self.log_mask), np.log(np.clip(y, 1e-30, None)), y)
            return (t - np.asarray(self.mean)) / np.asarray(self.std)
        mean, std, mask = self._tensors(y)
        t = torch.where(mask, torch.log(y.clamp_min(1e-30)), y)
        return (t - mean) / std

    def denormalize(self, y_norm):
        """Inverse of :meth:`normalize`."""
        if isinstance(y_norm, np.ndarray):
            t = y_norm * np.asarray(self.std) + np.asarray(self.mean)
            return np.where(np.asarray(self.log_mask), np.exp(t), t)
        mean, std, mask = self._tensors(y_norm)
        t = y_norm * std + mean
        return torch.where(mask, torch.exp(t), t)


def fit_normalizer(y_train: np.ndarray, transform: str = "auto", log_ratio: float = 5.0) -> LabelNormalizer:
    """Fit on training labels ``y_train`` (n, k) float.

    transform : ``"auto"`` (log where min > 0 and max/min > ``log_ratio``), ``"log"`` (log every
        strictly positive component), or ``"none"``.
    """
    y = np.asarray(y_train, dtype=np.float64)
    if y.ndim != 2 or len(y) < 2:
        raise ValueError(f"need at least 2 training labels of shape (n, k), got {y.shape}")
    lo, hi = y.min(axis=0), y.max(axis=0)
    if transform == "none":
        mask = np.zeros(y.shape[1], bool)
    elif transform == "log":
        mask = lo > 0
    elif transform == "auto":
        mask = (lo > 0) & (hi > log_ratio * np.where(lo > 0, lo, np.inf))
    else:
        raise ValueError(f"label transform must be 'auto', 'log' or 'none', got {transform!r}")
    t = np.where(mask, np.log(np.clip(y, 1e-30, None)), y)
    std = t.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)  # constant component: leave unscaled
    return LabelNormalizer(t.mean(axis=0).tolist(), std.tolist(), mask.tolist())
