"""trussvae: generative design of truss metamaterials.

Subpackages: ``design_space`` (the 27-node octant template and :class:`TrussGraph`),
``generation`` (elementary lattices, stochastic generator, chunked data sets), ``fem``
(periodic frames and homogenization), ``data``/``models``/``design`` (learning and design).
Conventions (Voigt order, units) are stated once in :mod:`trussvae.fem.elasticity`.
"""

__version__ = "0.1.0"
