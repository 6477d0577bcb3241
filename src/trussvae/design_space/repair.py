"""A light repair of decoded trusses, used by the validity score.

``repair(graph)`` applies, in order, until nothing changes:

1. **clip**: every free offset into ``[-0.5 + eps, 0.5 - eps]`` (non-finite offsets -> 0); fixed
   coordinates are reset to the template.
2. **prune dangling**: remove the struts of nodes with fewer than two struts in the full
   periodic cell, repeatedly (removing one can make its neighbour dangle).
3. **largest component**: keep only the octant component with the most struts (octant
   components stay disjoint in the full cell, so this is also the full-cell choice).

It does not move nodes to resolve intersections, over-long or zero-length struts, or add
struts for connectivity in all three directions: such trusses stay invalid.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from trussvae.design_space import octant
from trussvae.design_space.truss_graph import TrussGraph
from trussvae.design_space.validity import full_cell_struts

__all__ = ["repair", "clip_offsets", "prune_dangling", "largest_component"]


def clip_offsets(graph: TrussGraph, eps: float = 1e-3) -> TrussGraph:
    off = np.nan_to_num(graph.offsets, nan=0.0, posinf=0.0, neginf=0.0)
    bound = octant.OFFSET_BOUND - eps
    return TrussGraph.from_offsets(graph.adjacency, np.clip(off, -bound, bound))


def _dangling_nodes(adjacency: np.ndarray) -> np.ndarray:
    """(27,) bool: active octant nodes with an image of full-cell degree < 2."""
    edges = octant.TRIU_PAIRS[adjacency[octant.TRIU_I, octant.TRIU_J]]
    active = np.zeros(octant.N_NODES, bool)
    active[edges.ravel()] = True
    if len(edges) == 0:
        return active
    deg = np.bincount(octant.FULL_STRUT_NODES[full_cell_struts(edges)].ravel(), minlength=octant.N_FULL_NODES)
    low = np.zeros(octant.N_NODES, bool)
    np.logical_or.at(low, octant.FULL_NODE_OWNER, deg < 2)
    return low & active


def prune_dangling(graph: TrussGraph) -> TrussGraph:
    adj = graph.adjacency.copy()
    for _ in range(octant.N_NODES):
        bad = _dangling_nodes(adj)
        if not bad.any():
            break
        adj[bad, :] = False
        adj[:, bad] = False
    return graph.replace(adjacency=adj)


def largest_component(graph: TrussGraph) -> TrussGraph:
    edges = graph.edges
    if len(edges) == 0:
        return graph
    m = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(octant.N_NODES,) * 2)
    _, label = connected_components(m, directed=False)
    struts_per = np.bincount(label[edges[:, 0]], minlength=label.max() + 1)
    keep = label == int(np.argmax(struts_per))
    adj = graph.adjacency & keep[:, None] & keep[None, :]
    return graph.replace(adjacency=adj)


def repair(graph: TrussGraph, eps: float = 1e-3) -> TrussGraph:
    """Clip offsets, prune dangling struts, keep the largest component (see module docstring)."""
    g = clip_offsets(graph, eps)
    for _ in range(octant.N_NODES):
        before = g.adjacency
        g = largest_component(prune_dangling(g))
        if np.array_equal(before, g.adjacency):
            break
    return g
