"""Inverse design: the latent search, then the FE refinements, every candidate verified by FE.

The stages, each configured by its own part of :class:`InverseDesignConfig`:

1. ``search`` (:mod:`trussvae.design.search`): the paper's gradient-based latent optimisation
   from the best training structures, then FE verification of every distinct decode;
2. ``polish`` (:mod:`trussvae.design.polish`, optional): FE-driven local search on the best
   candidates;
3. ``evolve`` (:mod:`trussvae.design.evolve`, optional): an FE-driven evolutionary search seeded
   by every verified candidate; its new designs join the candidates.

All stages judge designs through one :class:`~trussvae.design.evaluate.Evaluator` (the FE
settings, the FE cache, the rank key). Each candidate's ``predicted_value`` is the predictor's
value at its final truss (after the polish or the evolution, not at the decoded start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields

import numpy as np

from trussvae.design.evaluate import Evaluator, design_id
from trussvae.design.evolve import EvolveConfig, evolve
from trussvae.design.polish import PolishConfig, polish
from trussvae.design.search import (
    Candidate,
    SearchConfig,
    latent_search,
    orthotropic_to_voigt,
    predict_props,
    predicted_values,
    rank_candidates,
    verify,
)

log = logging.getLogger(__name__)

__all__ = ["InverseDesignConfig", "Candidate", "DesignResult", "run_inverse_design", "orthotropic_to_voigt",
           "predict_props", "RENAMED_KEYS", "renamed_key_message"]

#: the flat ``optimizer.*`` keys of earlier versions -> their place in the nested configuration
RENAMED_KEYS = {
    **{f"optimizer.{k}": f"search.{k}" for k in ("n_starts", "n_steps", "lr", "eval_every", "threshold",
                                                 "prior_weight", "repair")},
    **{f"optimizer.polish_{k}": f"polish.{k}" for k in ("top", "steps", "topology", "nodes", "offsets",
                                                        "refine_top", "orient")},
    **{f"optimizer.evolve_{k}": f"evolve.{k}" for k in ("generations", "population", "offspring", "time_limit")},
    "optimizer.fe_jobs": "fe_jobs",
    "optimizer.seed": "seed",
}


def renamed_key_message(key: str) -> str | None:
    """A message naming the new key if ``key`` (e.g. ``optimizer.polish_top``) is an old one, else None."""
    key = key.lstrip("+~")
    if key == "optimizer" or key.startswith("optimizer."):
        new = RENAMED_KEYS.get(key)
        where = f"use {new}" if new else "see search.*, polish.*, evolve.*, fe_jobs and seed in conf/design.yaml"
        return f"{key} was renamed: {where} (the optimizer.* block was split into search, polish and evolve)"
    return None


@dataclass(frozen=True)
class InverseDesignConfig:
    """Configuration of :func:`run_inverse_design` (``conf/design.yaml``: ``search``, ``polish``,
    ``evolve``, ``fe_jobs``, ``seed``)."""

    search: SearchConfig = field(default_factory=SearchConfig)
    polish: PolishConfig = field(default_factory=PolishConfig)
    evolve: EvolveConfig = field(default_factory=EvolveConfig)
    #: worker processes of the FE verification, polish and evolution batches (curve targets gain most)
    fe_jobs: int = 1
    #: seeds the latent optimisation (torch) and the evolution
    seed: int = 0

    def __post_init__(self):
        for name, cls in (("search", SearchConfig), ("polish", PolishConfig), ("evolve", EvolveConfig)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"InverseDesignConfig.{name} must be a {cls.__name__}, "
                                f"got {type(getattr(self, name)).__name__} (use InverseDesignConfig.from_dict)")
        if int(self.fe_jobs) < 1:
            raise ValueError(f"fe_jobs must be >= 1, got {self.fe_jobs}")

    @classmethod
    def from_dict(cls, d: dict) -> InverseDesignConfig:
        """From a plain nested dict (``{search: {...}, polish: {...}, evolve: {...}, fe_jobs, seed}``,
        each part optional). Unknown keys are refused; old flat keys name their new place."""
        d = dict(d)
        top = {f.name for f in fields(cls)}
        for key in d:
            if key in top:
                continue
            old = f"optimizer.{key}"
            msg = renamed_key_message(old if old in RENAMED_KEYS else key)
            raise ValueError(msg or f"unknown design setting {key!r}; expected {sorted(top)}")
        parts = {}
        for name, sub in (("search", SearchConfig), ("polish", PolishConfig), ("evolve", EvolveConfig)):
            given = dict(d.pop(name, None) or {})
            known = {f.name for f in fields(sub)}
            unknown = sorted(set(given) - known)
            if unknown:
                raise ValueError(f"unknown {name} setting(s) {unknown}; expected {sorted(known)}")
            parts[name] = sub(**given)
        return cls(**parts, **d)


@dataclass
class DesignResult:
    objective: object  # Objective | CurveObjective
    candidates: list[Candidate]
    best_training_value: float
    training_values: np.ndarray
    start_indices: np.ndarray
    predicted_path: np.ndarray  # (n_steps + 1, n_starts) predicted objective value
    fe_path: list = field(default_factory=list)  # (step, start, fe_value) of verified decodes
    predicted_props: np.ndarray | None = None  # (n_steps + 1, n_starts, ...) predicted properties
    #: the evolution's record (generations, FE runs, best value per generation) or None when off
    evolution: dict | None = None
    #: FE value of the best verified decode of the latent search, before the polish and the evolution
    best_latent_value: float | None = None


def run_inverse_design(model, objective, adjacency: np.ndarray, offsets: np.ndarray, train_props: np.ndarray,
                       cfg: InverseDesignConfig = InverseDesignConfig(), fe=None,
                       progress: bool = True) -> DesignResult:
    """Inverse design from the training set (``adjacency`` (N,351), ``offsets`` (N,27), FE
    ``train_props``: stiffness (N,6,6) for linear objectives, stress curves (N,13) for curve
    objectives), verified with the FE settings ``fe`` (those of the training labels; default: the
    defaults of the objective's kind). Returns the FE-ranked candidates (best first) and the paths."""
    evaluator = Evaluator(objective, fe, cfg.fe_jobs)
    search = latent_search(model, evaluator, adjacency, offsets, train_props, cfg.search, cfg.seed, progress)
    candidates, fe_path = verify(model, evaluator, search.found, cfg.search.repair)
    best_latent = candidates[0].fe_value if candidates else None
    if cfg.polish.top > 0:
        _polish(model, candidates, evaluator, cfg.polish)
    evolution = None
    if cfg.evolve.generations > 0:
        evolution = _evolve(model, candidates, evaluator, cfg.evolve, cfg.seed)
    return DesignResult(objective, candidates, search.best_training_value, search.training_values,
                        search.start_indices, search.predicted_path, fe_path, search.predicted_props, evolution,
                        best_latent)


def _polish(model, candidates: list[Candidate], evaluator: Evaluator, cfg: PolishConfig) -> None:
    """Polish the best ``cfg.top`` candidates in place (kept where the FE loss improved), re-rank."""
    objective = evaluator.objective
    for k in candidates[: cfg.top]:
        res = polish(k.graph, evaluator, **cfg.kwargs())
        log.info("polish %s: %.5g -> %.5g (%d offset steps, %d topology moves, %d FE runs)", objective.name,
                 res.value_history[0], res.value_history[-1], res.n_offset_steps, res.n_topology_moves,
                 res.n_fe_evaluations)
        if res.loss_history[-1] < res.loss_history[0]:
            k.polished_from = k.fe_value
            k.graph, k.fe_props = res.graph, res.props
            k.fe_value = evaluator.value(res.props)
            k.feasible = evaluator.feasible(res.props)
            k.predicted_value = float(predicted_values(model, objective, [k.graph])[0])
    rank_candidates(candidates, evaluator)


def _evolve(model, candidates: list[Candidate], evaluator: Evaluator, cfg: EvolveConfig, seed: int) -> dict:
    """The evolution seeded by every verified candidate; its final population's new designs join
    the candidates (``origin="evolve"``, ``start = step = -1``). Returns its record."""
    objective = evaluator.objective
    res = evolve([k.graph for k in candidates], evaluator, seed=seed,
                 seed_props=np.array([k.fe_props for k in candidates]), **cfg.kwargs())
    known = {design_id(k.graph) for k in candidates}
    new = [(g, p, bool(f)) for g, p, f in zip(res.graphs, res.props, res.feasible) if design_id(g) not in known]
    predicted = predicted_values(model, objective, [g for g, _, _ in new])
    for (g, p, f), pv in zip(new, predicted):
        candidates.append(Candidate(g, p, evaluator.value(p), float(pv), f, -1, -1, False, origin="evolve"))
    rank_candidates(candidates, evaluator)
    record = {"generations": res.n_generations, "fe_evaluations": res.n_fe_evaluations,
              "seed_best_value": res.best_value_history[0], "best_value": res.best_value_history[-1],
              "best_value_history": res.best_value_history, "new_candidates": len(new)}
    log.info("evolve %s: %.5g -> %.5g (%d generations, %d FE runs, %d new designs)", objective.name,
             record["seed_best_value"], record["best_value"], res.n_generations, res.n_fe_evaluations, len(new))
    return record
