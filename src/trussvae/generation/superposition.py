"""Superposition of two trusses and splitting of intersecting struts (paper, Fig. 1 / Methods).

:func:`superpose` ORs the adjacency matrices on matched template nodes. A node active in both
keeps the position it has in the first structure (the second structure's struts follow it).

:func:`split_intersections` repairs crossing struts by inserting the template node whose DOF
manifold contains the crossing point (interior -> body node, face -> face node, octant edge ->
edge node, corner -> vertex node) and splitting both struts there. Where the template does not
allow it, the structure is discarded with a reason code:

``split_occupied``   the node that would take the crossing is already active elsewhere
``split_overlap``    collinear overlapping struts (no single crossing point)
``split_limit``      more than ``max_splits`` crossings
"""

from __future__ import annotations

import numpy as np

from trussvae.design_space import TrussGraph, octant
from trussvae.design_space.validity import find_intersections

_TOL = 1e-7  # natural units


def superpose(first: TrussGraph, second: TrussGraph) -> TrussGraph:
    """Boolean OR of the adjacency matrices; positions of nodes active in ``first`` win."""
    adj = first.adjacency | second.adjacency
    pos = np.where(first.active[:, None], first.positions, second.positions)
    return TrussGraph(adj, pos)


def _closest_points(p1, q1, p2, q2):
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, b, c, f = d1 @ d1, d2 @ d2, d1 @ d2, d1 @ r, d2 @ r
    denom = a * e - b * b
    if denom <= 1e-14 * a * e:
        return None
    s = np.clip((b * f - c * e) / denom, 0.0, 1.0)
    t = np.clip((b * s + f) / e, 0.0, 1.0)
    return p1 + s * d1, p2 + t * d2


def _manifold_code(on0: np.ndarray, on1: np.ndarray) -> int:
    """Base-3 code of a point's position class per axis: 0 free, 1 at 0, 2 at 1."""
    return int(np.dot(np.where(on0, 1, np.where(on1, 2, 0)), (1, 3, 9)))


#: template node by manifold code: the 27 nodes are exactly the 27 position classes
_NODE_BY_CODE = np.empty(27, dtype=np.int64)
for _k in range(octant.N_NODES):
    _fixed = ~octant.FREE_MASK[_k]
    _t = octant.TEMPLATE_POSITIONS[_k]
    _NODE_BY_CODE[_manifold_code(_fixed & (_t == 0), _fixed & (_t == 1))] = _k


def _template_node_at(x: np.ndarray) -> int:
    """The template node whose DOF manifold contains point ``x`` (natural coordinates)."""
    return int(_NODE_BY_CODE[_manifold_code(np.abs(x) < _TOL, np.abs(x - 1) < _TOL)])


def _split(adj: np.ndarray, edge: tuple[int, int], k: int) -> None:
    a, b = edge
    adj[a, b] = adj[b, a] = False
    for n in (a, b):
        if n != k:
            adj[n, k] = adj[k, n] = True


def split_intersections(graph: TrussGraph, max_splits: int = 8) -> tuple[TrussGraph | None, str]:
    """Split every pair of crossing struts at a template node. Returns ``(graph, "")`` or ``(None, code)``."""
    adj, pos = graph.adjacency.copy(), graph.positions.copy()
    for _ in range(max_splits + 1):
        edges = octant.TRIU_PAIRS[adj[octant.TRIU_I, octant.TRIU_J]]
        hits = find_intersections(edges, pos, 2e-6, np.cos(1e-6), 1)
        if len(hits) == 0:
            return TrussGraph(adj, pos), ""
        (a, b), (c, d) = edges[hits[0, 0]], edges[hits[0, 1]]
        if len({a, b, c, d}) < 4:
            return None, "split_overlap"  # sharing a node and collinear
        cp = _closest_points(pos[a], pos[b], pos[c], pos[d])
        if cp is None:
            return None, "split_overlap"  # parallel and touching
        x = 0.5 * (cp[0] + cp[1])
        k = _template_node_at(x)
        if adj[k].sum() > 1:
            if np.linalg.norm(pos[k] - x) > 1e-6:
                return None, "split_occupied"
        else:
            pos[k] = np.where(octant.FREE_MASK[k], x, octant.TEMPLATE_POSITIONS[k])
        for edge in ((a, b), (c, d)):
            if k not in edge:
                _split(adj, edge, k)
    return None, "split_limit"
