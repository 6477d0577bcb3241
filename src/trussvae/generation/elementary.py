"""The elementary lattices of the paper, built in the octant template.

Natural coordinates (octant [0,1]^3, full cell [-1,1]^3, see
:mod:`trussvae.design_space.octant`). ``*_2x2x2`` is the 2x2x2 tessellation of the lattice
within the same unit cell (a cell of the lattice in every octant).

- ``simple_cubic``: struts along the three octant edges through v0 (the mirror centre).
- ``bcc``: the octant diagonal v0-v6 (body centre at the mirror centre, corners at the cell corners).
- ``octet``: FCC nodes v0, v2, v5, v7 and the six face diagonals joining them (a regular
  tetrahedron in the octant); mirrored, every node has its 12 FCC neighbours.
- ``simple_cubic_2x2x2``: the 12 octant edges.
- ``bcc_2x2x2``: body node t0 joined to the 8 octant vertices.
- ``octet_2x2x2``: the 6 face nodes joined to the 4 vertices of their face and to their 12
  neighbouring face nodes (corners + face centres of the octant = one FCC cell).
"""

from __future__ import annotations

from trussvae.design_space import TrussGraph
from trussvae.design_space.octant import EDGE_VERTICES, FACE_PLANES, VERTEX_POSITIONS

__all__ = ["elementary", "ELEMENTARY_NAMES"]


def _face_vertices(face: int) -> list[int]:
    axis, value = FACE_PLANES[face]
    return [v for v in range(8) if VERTEX_POSITIONS[v, axis] == value]


def _edges(name: str) -> list[tuple[str, str]]:
    if name == "simple_cubic":
        return [("v0", "v1"), ("v0", "v3"), ("v0", "v4")]
    if name == "bcc":
        return [("v0", "v6")]
    if name == "octet":
        fcc = ["v0", "v2", "v5", "v7"]
        return [(a, b) for i, a in enumerate(fcc) for b in fcc[i + 1:]]
    if name == "simple_cubic_2x2x2":
        return [(f"v{a}", f"v{b}") for a, b in EDGE_VERTICES]
    if name == "bcc_2x2x2":
        return [(f"v{v}", "t0") for v in range(8)]
    if name == "octet_2x2x2":
        out = [(f"v{v}", f"f{f}") for f in range(6) for v in _face_vertices(f)]
        out += [(f"f{a}", f"f{b}") for a in range(6) for b in range(a + 1, 6) if FACE_PLANES[a, 0] != FACE_PLANES[b, 0]]
        return out
    raise KeyError(f"unknown elementary lattice {name!r}; choose from {', '.join(ELEMENTARY_NAMES)}")


ELEMENTARY_NAMES = ("simple_cubic", "bcc", "octet", "simple_cubic_2x2x2", "bcc_2x2x2", "octet_2x2x2")


def elementary(name: str) -> TrussGraph:
    """The elementary lattice ``name`` (one of :data:`ELEMENTARY_NAMES`) as a :class:`TrussGraph`."""
    return TrussGraph.from_edges(_edges(name))
