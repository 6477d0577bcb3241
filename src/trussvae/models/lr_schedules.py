"""Learning-rate schedules of training (pure functions of training progress in [0, 1]).

``lr_scheduler``: ``"none"`` (constant), ``"cosine"`` (per step: linear warm-up over the first
``warmup`` of training, then half-cosine decay to ``min_factor`` at the end; follows the training
progress of :meth:`trussvae.models.TrussVAE.progress`, epochs or wall time, whichever is ahead) or
``"cosine_epoch"`` (``torch.optim.lr_scheduler.CosineAnnealingLR`` over ``max_epochs``).
"""

from __future__ import annotations

import math

__all__ = ["warmup_cosine_factor", "LR_SCHEDULERS"]

LR_SCHEDULERS = ("none", "cosine", "cosine_epoch")


def warmup_cosine_factor(progress: float, warmup: float = 0.0, min_factor: float = 0.0) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1]: linear warm-up (at least 1e-3) over the
    first ``warmup``, then half-cosine from 1 to ``min_factor``."""
    p = float(progress)
    if warmup > 0 and p < warmup:
        return max(p / warmup, 1e-3)
    r = (p - warmup) / max(1.0 - warmup, 1e-9)
    r = min(max(r, 0.0), 1.0)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * r))
