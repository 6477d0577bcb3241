"""KL weight (beta) schedules: pure functions of training progress.

Progress ``t`` is measured in epochs (a float: ``epoch + batch / n_batches``) and ``total`` is the
number of epochs of the run. All schedules return a float in ``[beta_min, beta_max]``.

Cyclical schedule (Fu et al. 2019, used by the paper, Supplementary Fig. 3): the run is split
into ``n_cycles`` cycles of length ``P = total / n_cycles``. Within each cycle, beta stays at
``beta_min`` for the first ``start * P`` epochs (the paper: "after 50 epochs"), then ramps to
``beta_max`` over ``ratio * (1 - start) * P`` epochs with the chosen ``shape``, and stays at
``beta_max`` for the rest of the cycle. ``monotonic`` is the one-cycle special case.
"""

from __future__ import annotations

import math

__all__ = ["ramp", "cyclical", "monotonic", "constant", "beta_at", "SCHEDULES", "SHAPES"]

SHAPES = ("linear", "cosine", "sigmoid")
SCHEDULES = ("cyclical", "monotonic", "constant")


def ramp(r: float, shape: str = "linear", steepness: float = 10.0) -> float:
    """Map ``r`` in [0, 1] (clipped) to [0, 1]: linear, half-cosine, or a logistic normalised to hit 0 and 1."""
    r = min(max(float(r), 0.0), 1.0)
    if shape == "linear":
        return r
    if shape == "cosine":
        return 0.5 * (1.0 - math.cos(math.pi * r))
    if shape == "sigmoid":
        def s(u: float) -> float:
            return 1.0 / (1.0 + math.exp(-u))
        lo, hi = s(-steepness / 2), s(steepness / 2)
        return (s(steepness * (r - 0.5)) - lo) / (hi - lo)
    raise ValueError(f"ramp shape must be one of {SHAPES}, got {shape!r}")


def cyclical(t: float, total: float, n_cycles: int = 4, ratio: float = 0.5, shape: str = "linear",
             start: float = 0.0, beta_min: float = 0.0, beta_max: float = 1.0) -> float:
    """Cyclical annealing (see module docstring). ``start`` and ``ratio`` are fractions in [0, 1)."""
    if total <= 0 or n_cycles < 1:
        raise ValueError(f"need total > 0 and n_cycles >= 1, got total={total}, n_cycles={n_cycles}")
    if not (0.0 <= start < 1.0) or not (0.0 < ratio <= 1.0):
        raise ValueError(f"need 0 <= start < 1 and 0 < ratio <= 1, got start={start}, ratio={ratio}")
    period = total / n_cycles
    tau = (float(t) % period) / period if t < total else 1.0  # phase within the cycle in [0, 1]
    r = (tau - start) / (ratio * (1.0 - start))
    return beta_min + (beta_max - beta_min) * ramp(r, shape)


def monotonic(t: float, total: float, ratio: float = 0.5, shape: str = "linear", start: float = 0.0,
              beta_min: float = 0.0, beta_max: float = 1.0) -> float:
    """One ramp from ``beta_min`` to ``beta_max``, then constant."""
    return cyclical(t, total, 1, ratio, shape, start, beta_min, beta_max)


def constant(t: float, total: float = 1.0, beta_max: float = 1.0, **_) -> float:
    """``beta_max`` at all times."""
    return float(beta_max)


def beta_at(schedule: str, t: float, total: float, **params) -> float:
    """Dispatch by name: ``"cyclical"`` | ``"monotonic"`` | ``"constant"``."""
    if schedule == "cyclical":
        return cyclical(t, total, **params)
    if schedule == "monotonic":
        params.pop("n_cycles", None)
        return monotonic(t, total, **params)
    if schedule == "constant":
        return constant(t, total, beta_max=params.get("beta_max", 1.0))
    raise ValueError(f"KL schedule must be one of {SCHEDULES}, got {schedule!r}")
