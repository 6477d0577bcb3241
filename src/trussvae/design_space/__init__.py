"""The design space: 27-node octant template, `TrussGraph`, validity rules.

See docs/design_space.md for the conventions (node order, natural coordinates, mirroring).
"""

from trussvae.design_space import octant
from trussvae.design_space.truss_graph import (
    DESIGN_SPACE_VERSION,
    TrussGraph,
    TrussGraphError,
    arrays_to_graph,
    graph_to_arrays,
)
from trussvae.design_space.validity import DEFAULT_RULES, RULES, ValidityRules

__all__ = ["TrussGraph", "TrussGraphError", "ValidityRules", "DEFAULT_RULES", "RULES", "DESIGN_SPACE_VERSION",
           "octant", "arrays_to_graph", "graph_to_arrays"]
