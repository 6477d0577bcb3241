"""Design targets: scalar objectives of a stiffness tensor (or a stress-strain curve).

One function evaluates a named quantity on a (..., 6, 6) Voigt stiffness, for numpy arrays (FE
verification) and torch tensors (differentiable, through the property predictor) alike; the
conventions are those of :mod:`trussvae.fem.elasticity` (``nu_ij = -S_ji / S_ii``).

A :class:`Objective` is a weighted sum of terms (``maximize``/``minimize`` a quantity, or
``match`` a value) plus inequality constraints; lower is better for the combined ``loss``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["quantity", "QUANTITIES", "Term", "Constraint", "Objective", "named_target", "TARGETS", "nrmse"]

_E = {"E11": 0, "E22": 1, "E33": 2}
_G = {"G23": 3, "G13": 4, "G12": 5}
_C = {"C1111": (0, 0), "C1122": (0, 1), "C1133": (0, 2), "C2222": (1, 1), "C2233": (1, 2), "C3333": (2, 2),
      "C2323": (3, 3), "C3131": (4, 4), "C1212": (5, 5)}
QUANTITIES = (tuple(_E) + tuple(_G) + tuple(f"nu{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3) if i != j)
              + ("K_V", "G_V", "K_V/G_V") + tuple(_C))


def _inv(C):
    try:
        import torch

        if isinstance(C, torch.Tensor):
            return torch.linalg.inv(C)
    except ImportError:  # pragma: no cover
        pass
    return np.linalg.inv(C)


def _k_v(C):
    return (C[..., 0, 0] + C[..., 1, 1] + C[..., 2, 2] + 2 * (C[..., 0, 1] + C[..., 0, 2] + C[..., 1, 2])) / 9


def _g_v(C):
    normal = C[..., 0, 0] + C[..., 1, 1] + C[..., 2, 2]
    off = C[..., 0, 1] + C[..., 0, 2] + C[..., 1, 2]
    return (normal - off + 3 * (C[..., 3, 3] + C[..., 4, 4] + C[..., 5, 5])) / 15


def quantity(name: str, C):
    """Named property of a (..., 6, 6) Voigt stiffness (numpy or torch); one of :data:`QUANTITIES`."""
    if name in _C:
        a, b = _C[name]
        return C[..., a, b]
    if name in ("K_V", "G_V", "K_V/G_V"):
        k, g = _k_v(C), _g_v(C)
        return {"K_V": k, "G_V": g, "K_V/G_V": k / g}[name]
    if name in _E or name in _G or (len(name) == 4 and name.startswith("nu")):
        S = _inv(C)
        if name in _E:
            return 1.0 / S[..., _E[name], _E[name]]
        if name in _G:
            return 1.0 / S[..., _G[name], _G[name]]
        i, j = int(name[2]) - 1, int(name[3]) - 1
        if i != j and 0 <= i < 3 and 0 <= j < 3:
            return -S[..., j, i] / S[..., i, i]
    raise KeyError(f"unknown quantity {name!r}; choose from {', '.join(QUANTITIES)}")


def nrmse(curve, target):
    """Normalised RMS error between stress-strain vectors (paper): ``rms(curve - target) / (max - min of target)``."""
    diff = curve - target
    rng = target.max(-1) - target.min(-1) if hasattr(target, "max") else max(target) - min(target)
    return (diff**2).mean(-1) ** 0.5 / rng


@dataclass(frozen=True)
class Term:
    """``sense``: ``maximize`` | ``minimize`` | ``match`` (relative squared error to ``value``)."""

    quantity: str
    sense: str = "maximize"
    weight: float = 1.0
    value: float | None = None

    def __post_init__(self):
        if self.quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {self.quantity!r}; choose from {', '.join(QUANTITIES)}")
        if self.sense not in ("maximize", "minimize", "match"):
            raise ValueError(f"sense must be maximize, minimize or match, got {self.sense!r}")
        if self.sense == "match" and self.value is None:
            raise ValueError(f"term {self.quantity}: 'match' needs a value")

    def loss(self, C):
        q = quantity(self.quantity, C)
        if self.sense == "maximize":
            return -self.weight * q
        if self.sense == "minimize":
            return self.weight * q
        return self.weight * ((q - self.value) / abs(self.value)) ** 2


@dataclass(frozen=True)
class Constraint:
    """``quantity >= lower`` and/or ``quantity <= upper``; violations are penalised (quadratic, relative)."""

    quantity: str
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self):
        if self.quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {self.quantity!r}")
        if self.lower is None and self.upper is None:
            raise ValueError(f"constraint on {self.quantity} needs a lower or upper bound")

    def violation(self, C):
        q = quantity(self.quantity, C)
        v = 0.0 * q
        if self.lower is not None:
            v = v + _relu(self.lower - q) / abs(self.lower or 1.0)
        if self.upper is not None:
            v = v + _relu(q - self.upper) / abs(self.upper or 1.0)
        return v


def _relu(x):
    return x * (x > 0)


@dataclass(frozen=True)
class Objective:
    """Weighted terms + constraints. ``value`` is the reported figure (the first term's quantity,
    or the relative RMS mismatch for pure matching), ``loss`` what the optimiser minimises."""

    name: str
    terms: tuple[Term, ...]
    constraints: tuple[Constraint, ...] = field(default_factory=tuple)
    penalty: float = 10.0

    def __post_init__(self):
        if not self.terms:
            raise ValueError(f"objective {self.name!r} has no terms")

    @property
    def sense(self) -> str:
        """``maximize`` or ``minimize`` for :meth:`value` (``match`` objectives minimise the mismatch)."""
        s = self.terms[0].sense
        return "minimize" if s == "match" else s

    def value(self, C):
        if all(t.sense == "match" for t in self.terms):
            return (sum(t.loss(C) / t.weight for t in self.terms) / len(self.terms)) ** 0.5
        return quantity(self.terms[0].quantity, C)

    def loss(self, C):
        total = sum(t.loss(C) for t in self.terms)
        for c in self.constraints:
            total = total + self.penalty * c.violation(C) ** 2
        return total

    def feasible(self, C, tol: float = 1e-9):
        ok = True
        for c in self.constraints:
            ok = ok & (c.violation(C) <= tol)
        return ok

    def better(self, a: float, b: float) -> bool:
        return a > b if self.sense == "maximize" else a < b


def named_target(name: str, **kw) -> Objective:
    """The shipped targets: ``stiff``, ``auxetic``, ``pentamode``, ``stiffness`` (needs ``values``)."""
    if name == "stiff":
        return Objective("stiff", (Term(kw.get("quantity", "E22"), "maximize"),))
    if name == "auxetic":
        return Objective("auxetic", (Term(kw.get("quantity", "nu21"), "minimize"),))
    if name == "pentamode":
        return Objective("pentamode", (Term("K_V/G_V", "maximize"),))
    if name == "stiffness":
        values = kw.get("values")
        if not values:
            raise ValueError("target 'stiffness' needs values, e.g. {C1111: 0.02, C2222: 0.02, ...}")
        return Objective("stiffness", tuple(Term(q, "match", 1.0, float(v)) for q, v in values.items()))
    raise KeyError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")


TARGETS = ("stiff", "auxetic", "pentamode", "stiffness", "curve")
