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

from trussvae.fem import elasticity as el
from trussvae.fem.nonlinear import LABEL_STRAINS

__all__ = ["quantity", "QUANTITIES", "Term", "Constraint", "Objective", "CurveObjective", "named_target",
           "objective_from_spec",
           "TARGETS", "nrmse", "STRAIN_POINTS"]

#: the paper's 13 strain points of the nonlinear labels (0.5%, 2.5%, ..., 24.5%)
STRAIN_POINTS = tuple(round(float(e), 3) for e in LABEL_STRAINS)  # the 13 label strains of the nonlinear FE

_E = {"E11": 0, "E22": 1, "E33": 2}
_G = {"G23": 3, "G13": 4, "G12": 5}
_C = dict(zip(el.ORTHOTROPIC_NAMES, el.ORTHOTROPIC_INDEX))
QUANTITIES = (tuple(_E) + tuple(_G) + tuple(f"nu{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3) if i != j)
              + ("K_V", "G_V", "K_V/G_V") + tuple(_C))


def quantity(name: str, C):
    """Named property of a (..., 6, 6) Voigt stiffness (numpy or torch); one of :data:`QUANTITIES`."""
    if name in _C:
        a, b = _C[name]
        return C[..., a, b]
    if name in ("K_V", "G_V", "K_V/G_V"):
        k, g = el.voigt_bulk_modulus(C), el.voigt_shear_modulus(C)
        return {"K_V": k, "G_V": g, "K_V/G_V": k / g}[name]
    if name in _E:
        return el.youngs_moduli(C)[..., _E[name]]
    if name in _G:
        return el.shear_moduli(C)[..., _G[name] - 3]
    if len(name) == 4 and name.startswith("nu") and name[2] in "123" and name[3] in "123" and name[2] != name[3]:
        return el.poisson_ratio(C, int(name[2]) - 1, int(name[3]) - 1)
    raise KeyError(f"unknown quantity {name!r}; choose from {', '.join(QUANTITIES)}")


def nrmse(curve, target):
    """Normalised RMS error between stress-strain vectors (paper): ``rms(curve - target) / (max - min of target)``."""
    diff = curve - target
    if hasattr(target, "amax"):  # torch
        rng = target.amax(-1) - target.amin(-1)
    else:
        rng = np.ptp(np.asarray(target, dtype=float), axis=-1)
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
    kind: str = "linear"

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


@dataclass(frozen=True)
class CurveObjective:
    """Match a 13-point nominal stress-strain curve (units of E_s) with the paper's NRMSE."""

    name: str
    target: tuple[float, ...]
    kind: str = "curve"
    sense: str = "minimize"
    constraints: tuple = ()

    def __post_init__(self):
        t = np.asarray(self.target, dtype=float)
        if t.shape != (13,) or not np.all(np.isfinite(t)) or np.ptp(t) <= 0:
            raise ValueError(f"curve target must be 13 finite stresses that are not all equal, got {self.target}")

    def _t(self, y):
        try:
            import torch

            if isinstance(y, torch.Tensor):
                return torch.as_tensor(self.target, dtype=y.dtype, device=y.device)
        except ImportError:  # pragma: no cover
            pass
        return np.asarray(self.target, dtype=float)

    def value(self, y):
        return nrmse(y, self._t(y))

    def loss(self, y):
        return self.value(y) ** 2

    def feasible(self, y, tol: float = 0.0):
        return self.value(y) == self.value(y)  # finite (NaN -> False)

    def better(self, a: float, b: float) -> bool:
        return a < b


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
    if name == "curve":
        if kw.get("curve") is None:
            raise ValueError("target 'curve' needs a 13-point stress vector (curve=[...])")
        return CurveObjective("curve", tuple(float(v) for v in kw["curve"]))
    raise KeyError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")


TARGETS = ("stiff", "auxetic", "pentamode", "stiffness", "curve")


def objective_from_spec(spec: dict, train_curves: np.ndarray | None = None):
    """Build an objective from a plain config dict (``conf/target/*.yaml``).

    Keys: ``name`` (one of :data:`TARGETS`); ``quantity`` (stiff/auxetic); ``terms`` (list of
    ``{quantity, sense, weight, value}``: replaces the default term, for weighted combinations);
    ``floors`` (list of ``{quantity, lower}``: the stiffness floors that keep a design usable, e.g.
    ``E11 >= 0.002``; ``null`` lifts them); ``constraints`` (list of ``{quantity, lower, upper}``,
    in addition to the floors); ``values`` (stiffness: mapping
    quantity -> value; curve: 13 stresses); ``mode``/``factor`` for curves (``stiffer``: ``factor``
    x the training curve with the largest final stress; ``softening``: a curve that rises to the
    median training peak at 5% strain and then softens to 60% of it; ``explicit``: ``values``).
    """
    spec = dict(spec)
    name = spec.get("name")
    if name not in TARGETS:
        raise KeyError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    if name == "curve":
        return CurveObjective("curve", tuple(_curve_target(spec, train_curves)))
    floors = []
    for f in spec.get("floors") or ():
        f = dict(f)
        if set(f) != {"quantity", "lower"}:
            raise ValueError(f"target {name!r}: a floor is {{quantity, lower}}, got {f}; "
                             "use target.constraints for other bounds")
        floors.append(Constraint(**f))
    constraints = tuple(floors) + tuple(Constraint(**c) for c in spec.get("constraints") or ())
    if spec.get("terms"):
        terms = tuple(Term(**t) for t in spec["terms"])
    elif name == "stiffness":
        terms = named_target("stiffness", values=spec.get("values")).terms
    else:
        kw = {"quantity": spec["quantity"]} if spec.get("quantity") else {}
        terms = named_target(name, **kw).terms
    return Objective(name, terms, constraints)


def _curve_target(spec: dict, train_curves: np.ndarray | None) -> np.ndarray:
    mode = spec.get("mode", "explicit")
    if mode == "explicit":
        if spec.get("values") is None:
            raise ValueError("curve target: mode=explicit needs values (13 stresses)")
        return np.asarray(spec["values"], dtype=float)
    if train_curves is None or len(train_curves) == 0:
        raise ValueError(f"curve target mode={mode!r} is derived from the training curves, none given")
    curves = np.asarray(train_curves, dtype=float)
    if mode == "stiffer":
        return float(spec.get("factor", 1.3)) * curves[np.nanargmax(curves[:, -1])]
    if mode == "softening":
        peak = float(np.nanmedian(np.nanmax(curves, axis=1)))
        s = np.asarray(STRAIN_POINTS)
        rise = peak * np.minimum(s / 0.05, 1.0)
        return np.where(s <= 0.05, rise, peak * (1.0 - 0.4 * (s - 0.05) / (s[-1] - 0.05)))
    raise ValueError(f"curve target: mode must be stiffer, softening or explicit, got {mode!r}")
