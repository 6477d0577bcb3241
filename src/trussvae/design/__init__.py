"""Latent exploration and inverse design, every result verified by FE (``design.py``)."""

from trussvae.design.inverse import InverseDesignConfig, run_inverse_design
from trussvae.design.targets import CurveObjective, Objective, named_target, objective_from_spec

__all__ = ["InverseDesignConfig", "run_inverse_design", "Objective", "CurveObjective", "named_target",
           "objective_from_spec"]
