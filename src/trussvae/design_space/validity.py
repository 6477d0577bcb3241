"""Validity rules of design-space lattices, each failure with its reason.

Rules (codes are stable; the data-set builder counts rejections by code):

``nonfinite``     a node position is NaN or infinite
``bounds``        an active node leaves its DOF manifold: a fixed coordinate differs from the
                  template, or a free offset is outside the open interval (-0.5, 0.5)
``empty``         no strut at all
``zero_length``   a strut shorter than ``rules.min_length`` (with open offset bounds, two
                  active nodes can only coincide if their template manifolds touch, which
                  ``bounds`` already excludes)
``max_length``    a strut longer than ``rules.max_length`` (paper: sqrt(3)/2 cell sides)
``intersection``  two struts intersect or overlap anywhere except at a shared end node
                  (also: a node lying inside another strut, collinear overlapping struts)
``dangling``      an active node with fewer than two struts in the full periodic cell
``connectivity``  the full tessellation is not one connected network spanning all three
                  directions (several components, load paths in < 3 directions, or several
                  interpenetrating copies)

All geometric rules are checked on the octant (natural coordinates, octant side 1, so one
unit-cell side is 2 natural units; lengths in ``ValidityRules`` are in unit-cell sides). This is
exact: struts of different mirror images can only meet on the mirror planes, at nodes. Degree
and connectivity are checked on the full periodic cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from trussvae.design_space import octant
from trussvae.fem.topology import cycle_vectors, lattice_index

RULES = ("nonfinite", "bounds", "empty", "zero_length", "max_length", "intersection", "dangling", "connectivity")


@dataclass(frozen=True)
class ValidityRules:
    """Thresholds of the validity rules; lengths in unit-cell sides (natural units / 2)."""

    max_length: float = octant.MAX_STRUT_LENGTH + 1e-9
    min_length: float = 1e-6
    #: two struts closer than this (away from a shared node) count as intersecting
    intersection_tol: float = 1e-6
    #: two collinear struts sharing a node overlap if the angle between them is below this (rad)
    overlap_angle: float = 1e-6


DEFAULT_RULES = ValidityRules()


@nb.njit(cache=True)
def _segment_distance(p1, q1, p2, q2):
    """Minimum distance between segments p1-q1 and p2-q2 (Ericson, Real-Time Collision Detection)."""
    d1 = q1 - p1
    d2 = q2 - p2
    r = p1 - p2
    a = d1 @ d1
    e = d2 @ d2
    f = d2 @ r
    c = d1 @ r
    b = d1 @ d2
    denom = a * e - b * b
    s = 0.0
    if denom > 1e-14 * a * e:
        s = min(max((b * f - c * e) / denom, 0.0), 1.0)
    t = (b * s + f) / e
    if t < 0.0:
        t = 0.0
        s = min(max(-c / a, 0.0), 1.0)
    elif t > 1.0:
        t = 1.0
        s = min(max((b - c) / a, 0.0), 1.0)
    diff = p1 + s * d1 - (p2 + t * d2)
    return np.sqrt(diff @ diff)


@nb.njit(cache=True)
def find_intersections(edges, pos, tol, cos_overlap, max_report):
    """Pairs of struts that intersect/overlap other than at a shared end.

    edges: (E, 2) int64 node indices; pos: (N, 3) float64. Returns (K, 2) strut index pairs
    (at most ``max_report``).
    """
    n = edges.shape[0]
    out = np.empty((max_report, 2), np.int64)
    k = 0
    for e in range(n):
        a, b = edges[e, 0], edges[e, 1]
        for f in range(e + 1, n):
            c, d = edges[f, 0], edges[f, 1]
            shared = -1
            other_e, other_f = -1, -1
            if a == c:
                shared, other_e, other_f = a, b, d
            elif a == d:
                shared, other_e, other_f = a, b, c
            elif b == c:
                shared, other_e, other_f = b, a, d
            elif b == d:
                shared, other_e, other_f = b, a, c
            if shared >= 0:
                u = pos[other_e] - pos[shared]
                v = pos[other_f] - pos[shared]
                nu = np.sqrt(u @ u)
                nv = np.sqrt(v @ v)
                hit = (u @ v) >= cos_overlap * nu * nv
            else:
                hit = _segment_distance(pos[a], pos[b], pos[c], pos[d]) < tol
            if hit:
                if k < max_report:
                    out[k, 0] = e
                    out[k, 1] = f
                k += 1
                if k >= max_report:
                    return out[:k]
    return out[:k]


def check(edges: np.ndarray, positions: np.ndarray, rules: ValidityRules = DEFAULT_RULES,
          first_only: bool = False) -> list[tuple[str, str]]:
    """Violated rules of an octant structure as ``(code, reason)`` pairs (empty when valid).

    Parameters
    ----------
    edges : (E, 2) int, octant node index pairs (i < j), the active struts.
    positions : (27, 3) float, natural node coordinates.
    first_only : stop at the first violation (fast rejection in the generator).
    """
    out: list[tuple[str, str]] = []
    names = octant.NODE_NAMES
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    pos = np.asarray(positions, dtype=np.float64)
    if len(edges) == 0:
        return [("empty", "no struts: the truss has no active edge")]
    active = np.zeros(octant.N_NODES, bool)
    active[edges.ravel()] = True
    if not np.all(np.isfinite(pos[active])):
        k = int(np.flatnonzero(active & ~np.all(np.isfinite(pos), axis=1))[0])
        return [("nonfinite", f"node {names[k]} has a non-finite position {pos[k].tolist()}")]
    bad = bounds_violations(pos, active)
    if bad:
        out.append(("bounds", bad))
        return out  # geometry outside the template: the other rules are meaningless
    vec = pos[edges[:, 1]] - pos[edges[:, 0]]
    length = np.sqrt(np.einsum("ij,ij->i", vec, vec)) / 2.0  # unit-cell sides
    if length.min() < rules.min_length:
        e = int(np.argmin(length))
        out.append(("zero_length", f"strut {names[edges[e, 0]]}-{names[edges[e, 1]]} has length {length[e]:.3g}"))
    if first_only and out:
        return out
    if length.max() > rules.max_length:
        e = int(np.argmax(length))
        out.append(("max_length", f"strut {names[edges[e, 0]]}-{names[edges[e, 1]]} has length "
                                  f"{length[e]:.4f} > {rules.max_length:.4f}"))
    if first_only and out:
        return out
    hits = find_intersections(edges, pos, 2.0 * rules.intersection_tol, np.cos(rules.overlap_angle), 4)
    if len(hits):
        (e, f) = hits[0]
        out.append(("intersection", f"struts {names[edges[e, 0]]}-{names[edges[e, 1]]} and "
                                    f"{names[edges[f, 0]]}-{names[edges[f, 1]]} intersect or overlap "
                                    "away from a shared node"))
    if first_only and out:
        return out
    out.extend(_full_cell_violations(edges, active, first_only))
    return out


def bounds_violations(pos: np.ndarray, active: np.ndarray) -> str:
    """The ``bounds`` rule on (27, 3) positions of the ``active`` nodes: the reason, or ``""``."""
    fixed_err = np.where(octant.FREE_MASK, 0.0, np.abs(pos - octant.TEMPLATE_POSITIONS))
    offset = np.where(octant.FREE_MASK, np.abs(pos - 0.5), 0.0)
    bad_fixed = active & np.any(fixed_err > 1e-9, axis=1)
    bad_free = active & np.any(offset >= octant.OFFSET_BOUND, axis=1)
    if bad_fixed.any():
        k = int(np.flatnonzero(bad_fixed)[0])
        axis = int(np.argmax(fixed_err[k]))
        return (f"node {octant.NODE_NAMES[k]}: coordinate {'xyz'[axis]}={pos[k, axis]:.6g} must stay at its "
                f"template value {octant.TEMPLATE_POSITIONS[k, axis]:g} (not a DOF of a "
                f"{octant.TYPE_NAMES[octant.NODE_TYPES[k]]} node)")
    if bad_free.any():
        k = int(np.flatnonzero(bad_free)[0])
        axis = int(np.argmax(offset[k]))
        return (f"node {octant.NODE_NAMES[k]}: offset {pos[k, axis] - 0.5:+.6g} along {'xyz'[axis]} is outside "
                f"the open interval (-0.5, 0.5)")
    return ""


def full_cell_struts(edges: np.ndarray) -> np.ndarray:
    """Ids of the distinct full-cell struts (rows of ``octant.FULL_STRUT_NODES``) of octant ``edges``."""
    ids = octant.STRUT_IMAGES[octant.PAIR_INDEX[edges[:, 0], edges[:, 1]]].ravel()
    return np.unique(ids[ids >= 0])


def _full_cell_violations(edges: np.ndarray, active: np.ndarray, first_only: bool) -> list[tuple[str, str]]:
    out = []
    full = full_cell_struts(edges)
    nodes, shifts = octant.FULL_STRUT_NODES[full], octant.FULL_STRUT_SHIFTS[full]
    deg = np.bincount(nodes.ravel(), minlength=octant.N_FULL_NODES)
    owner_active = active[octant.FULL_NODE_OWNER]
    low = owner_active & (deg < 2)
    if low.any():
        k = octant.FULL_NODE_OWNER[int(np.flatnonzero(low)[0])]
        out.append(("dangling", f"node {octant.NODE_NAMES[k]} has fewer than two struts in the full cell "
                                f"({int(low.sum())} dangling node image(s))"))
        if first_only:
            return out
    comp, cycles = cycle_vectors(octant.N_FULL_NODES, nodes, shifts)
    n_comp = int(comp.max()) + 1
    if n_comp > 1:
        out.append(("connectivity", f"the full cell has {n_comp} disconnected components"))
        return out
    rank, index = lattice_index(cycles) if len(cycles) else (0, 0)
    if rank < 3:
        out.append(("connectivity", f"load paths span only {rank} of 3 directions (the truss is not "
                                    "connected across the periodic cell in every direction)"))
    elif index > 1:
        out.append(("connectivity", f"the tessellation splits into {index} interpenetrating, disconnected copies"))
    return out
