"""Latent exploration and inverse design, every result verified by FE (``design.py``).

Modules by role: :mod:`~trussvae.design.targets` (objectives), :mod:`~trussvae.design.evaluate`
(FE scoring: settings, cache, feasibility, rank key, design identity), :mod:`~trussvae.design.search`
(the latent search), :mod:`~trussvae.design.polish` and :mod:`~trussvae.design.evolve` (FE
refinements), :mod:`~trussvae.design.inverse` (the stages together), :mod:`~trussvae.design.run`
(a design run with its outputs), :mod:`~trussvae.design.latent` (latent exploration).
"""

from trussvae.design.evaluate import Evaluator
from trussvae.design.evolve import EvolveConfig
from trussvae.design.inverse import InverseDesignConfig, run_inverse_design
from trussvae.design.polish import PolishConfig
from trussvae.design.search import SearchConfig
from trussvae.design.targets import CurveObjective, Objective, named_target, objective_from_spec

__all__ = ["InverseDesignConfig", "SearchConfig", "PolishConfig", "EvolveConfig", "Evaluator", "run_inverse_design",
           "Objective", "CurveObjective", "named_target", "objective_from_spec"]
