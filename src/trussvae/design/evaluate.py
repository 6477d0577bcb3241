"""FE evaluation of designs for an objective: the one place where design stages meet FE.

Every design stage (the verification of the latent search's decodes, the polish, the evolution)
judges trusses through an :class:`Evaluator`, which holds

* the **FE settings** (:mod:`trussvae.fem.settings`): :class:`~trussvae.fem.settings.LinearFESettings`
  for stiffness objectives (FE properties: the (6, 6) Voigt stiffness),
  :class:`~trussvae.fem.settings.NonlinearFESettings` for curve objectives (the 13-point stress
  vector of the compression test, NaN where it failed). A design run takes them from the training
  data set's ``meta.json`` (:func:`trussvae.fem.settings.settings_from_meta`), so that designs are
  verified with exactly the settings of the labels the model learned;
* **the design identity**: :func:`design_id`, the truss's canonical hash (equal for every
  representation of the same periodic lattice, so that one lattice is evaluated once);
* a **cache** of FE results by design identity (FE is deterministic);
* **feasibility** and **the rank key** (:func:`rank_key`): feasible designs (finite FE response,
  finite loss, constraints satisfied) first, then by the objective's loss (lower is better).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trussvae.design_space import TrussGraph
from trussvae.fem.settings import LINEAR, NONLINEAR, FESettings, LinearFESettings, NonlinearFESettings

__all__ = ["Evaluator", "Evaluation", "design_id", "rank_key", "label_kind", "fe_properties", "prop_shape",
           "default_settings"]


def design_id(graph: TrussGraph) -> str:
    """The identity of a design: its canonical hash (see :meth:`TrussGraph.canonical_hash`)."""
    return graph.canonical_hash()


def rank_key(loss: float, feasible: bool) -> tuple[bool, float]:
    """Sort key of a design: feasible first, then by the loss (lower is better)."""
    return (not (bool(feasible) and bool(np.isfinite(loss))), float(loss))


def label_kind(objective) -> str:
    """The label set (and FE kind) an objective is evaluated on: ``"linear"`` or ``"nonlinear"`` (curves)."""
    return LINEAR if objective.kind == "linear" else NONLINEAR


def prop_shape(kind: str) -> tuple[int, ...]:
    """Shape of one design's FE properties: (6, 6) stiffness or (13,) stresses."""
    return (6, 6) if kind == LINEAR else (13,)


def default_settings(kind: str) -> FESettings:
    """Default FE settings of ``kind`` (the conventions of :mod:`trussvae.fem.elasticity`)."""
    return LinearFESettings() if kind == LINEAR else NonlinearFESettings()


def fe_properties(graphs, fe: FESettings, n_jobs: int = 1) -> np.ndarray:
    """FE properties of valid trusses with the settings ``fe`` (NaN where FE fails):
    (n, 6, 6) stiffness (:class:`LinearFESettings`) or (n, 13) stresses (:class:`NonlinearFESettings`)."""
    frames = [g.to_frame(relative_density=fe.relative_density) for g in graphs]
    if not frames:
        return np.zeros((0, *prop_shape(fe.kind)))
    if fe.kind == LINEAR:
        return fe.evaluate(frames, n_jobs=n_jobs)
    stress, ok, _ = fe.evaluate(frames, n_jobs=n_jobs)
    return np.where(np.asarray(ok)[:, None], stress, np.nan)


@dataclass
class Evaluation:
    """The FE evaluation of n designs."""

    #: (n, 6, 6) or (n, 13); NaN where the design is missing or invalid, or its FE analysis failed
    props: np.ndarray
    #: (n,) the objective's loss; inf where ``props`` is not finite
    loss: np.ndarray
    #: (n,) finite FE response and loss, and the objective's constraints satisfied
    feasible: np.ndarray
    #: FE analyses run for this evaluation (cache hits and invalid designs cost none)
    n_fe: int = 0

    def rank_keys(self) -> list[tuple[bool, float]]:
        return [rank_key(lo, f) for lo, f in zip(self.loss, self.feasible)]


class Evaluator:
    """FE scoring of :class:`TrussGraph` designs for ``objective`` with the settings ``fe`` (see
    the module doc). ``fe`` defaults to :func:`default_settings` of the objective's kind;
    ``n_jobs``: FE worker processes; ``cache``: keep FE results by :func:`design_id`.

    Raises
    ------
    ValueError
        If ``fe`` is not the kind of settings the objective needs (linear vs nonlinear).
    """

    def __init__(self, objective, fe: FESettings | None = None, n_jobs: int = 1, cache: bool = True):
        self.objective = objective
        self.kind = label_kind(objective)
        fe = default_settings(self.kind) if fe is None else fe
        if getattr(fe, "kind", None) != self.kind:
            want = "LinearFESettings" if self.kind == LINEAR else "NonlinearFESettings"
            raise ValueError(f"objective {objective.name!r} is evaluated by {self.kind} FE and needs {want}, "
                             f"got {type(fe).__name__}")
        if int(n_jobs) < 1:
            raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
        self.fe = fe
        self.n_jobs = int(n_jobs)
        self.shape = prop_shape(self.kind)
        self._cache: dict[str, np.ndarray] | None = {} if cache else None
        #: FE analyses run so far (all calls)
        self.n_fe_runs = 0

    @classmethod
    def of(cls, target, fe: FESettings | None = None, n_jobs: int = 1) -> Evaluator:
        """``target`` if it is an Evaluator (then ``fe`` must be None), else ``Evaluator(target, fe, n_jobs)``."""
        if isinstance(target, Evaluator):
            if fe is not None:
                raise ValueError("pass FE settings either in the Evaluator or as fe=..., not both")
            return target
        return cls(target, fe, n_jobs)

    def props(self, graphs) -> tuple[np.ndarray, int]:
        """(FE properties (n, ...) of ``graphs``, FE analyses run). Missing (None) or invalid
        designs, and failed analyses, give NaN."""
        graphs = list(graphs)
        out = np.full((len(graphs), *self.shape), np.nan)
        todo: dict[str, list[int]] = {}
        for k, g in enumerate(graphs):
            if g is None or not g.is_valid():
                continue
            key = design_id(g)
            if self._cache is not None and key in self._cache:
                out[k] = self._cache[key]
            else:
                todo.setdefault(key, []).append(k)
        if todo:
            first = [rows[0] for rows in todo.values()]
            P = fe_properties([graphs[k] for k in first], self.fe, self.n_jobs)
            for (key, rows), p in zip(todo.items(), P):
                out[rows] = p
                if self._cache is not None:
                    self._cache[key] = p
        self.n_fe_runs += len(todo)
        return out, len(todo)

    def score(self, props) -> Evaluation:
        """Loss and feasibility of known FE properties (n, ...) (NaN rows: loss inf, infeasible)."""
        props = np.asarray(props, dtype=float)
        finite = np.isfinite(props).reshape(len(props), int(np.prod(props.shape[1:]))).all(axis=1)
        loss = np.full(len(props), np.inf)
        feasible = np.zeros(len(props), dtype=bool)
        if finite.any():
            obj = self.objective
            with np.errstate(all="ignore"):
                loss[finite] = np.asarray(obj.loss(props[finite]), dtype=float)
                value = np.asarray(obj.value(props[finite]), dtype=float)
                feasible[finite] = (np.asarray(obj.feasible(props[finite]), dtype=bool) & np.isfinite(value)
                                    & np.isfinite(loss[finite]))
            loss[~np.isfinite(loss)] = np.inf
        return Evaluation(props, loss, feasible)

    def evaluate(self, graphs) -> Evaluation:
        """FE properties, loss and feasibility of ``graphs`` (see :meth:`props` and :meth:`score`)."""
        props, n = self.props(graphs)
        ev = self.score(props)
        ev.n_fe = n
        return ev

    def value(self, props) -> float:
        """The objective's reported value of one design's FE properties."""
        return float(self.objective.value(props))

    def feasible(self, props) -> bool:
        """Whether one design's FE properties are feasible (see :meth:`score`)."""
        return bool(self.score(np.asarray(props, dtype=float)[None]).feasible[0])
