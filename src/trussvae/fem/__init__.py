"""Periodic beam lattices and their finite-element homogenization.

Conventions: see :mod:`trussvae.fem.elasticity`.
"""

from trussvae.fem.frame import FrameError, PeriodicFrame
from trussvae.fem.linear import MechanismError, homogenize, homogenize_many

__all__ = ["PeriodicFrame", "FrameError", "MechanismError", "homogenize", "homogenize_many"]

from trussvae.fem.nonlinear import CompressionResult, compression_labels, uniaxial_compression  # noqa: E402

__all__ += ["CompressionResult", "compression_labels", "uniaxial_compression"]
