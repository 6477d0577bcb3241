"""Graph algorithms on periodic frames: periodic connectivity, strut merging.

Pure functions on arrays (no I/O). Used for validity checks of design-space lattices and of
user-supplied frames, and for the canonical key of a frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba as nb
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from trussvae.fem.frame import PeriodicFrame

__all__ = ["periodic_rank_and_components", "lattice_index", "merge_collinear", "PeriodicConnectivity"]


class PeriodicConnectivity(tuple):
    """``(n_components, rank, index)`` of a periodic graph (see :func:`periodic_rank_and_components`)."""

    __slots__ = ()

    def __new__(cls, n_components: int, rank: int, index: int):
        return super().__new__(cls, (n_components, rank, index))

    n_components = property(lambda self: self[0])
    rank = property(lambda self: self[1])
    index = property(lambda self: self[2])

    @property
    def spanning(self) -> bool:
        """One component, load paths in 3 directions, and not several interpenetrating copies."""
        return self.n_components == 1 and self.rank == 3 and self.index == 1


@nb.njit(cache=True)
def _cycle_vectors(n_nodes, struts, shifts):
    """BFS over the quotient graph. Returns (component id per node (-1 isolated), cycles (C,3))."""
    n_e = struts.shape[0]
    deg = np.zeros(n_nodes, np.int64)
    for e in range(n_e):
        deg[struts[e, 0]] += 1
        deg[struts[e, 1]] += 1
    start = np.zeros(n_nodes + 1, np.int64)
    for i in range(n_nodes):
        start[i + 1] = start[i] + deg[i]
    fill = start[:-1].copy()
    nbr = np.empty(2 * n_e, np.int64)
    eid = np.empty(2 * n_e, np.int64)
    sign = np.empty(2 * n_e, np.int64)
    for e in range(n_e):
        i, j = struts[e, 0], struts[e, 1]
        nbr[fill[i]] = j
        eid[fill[i]] = e
        sign[fill[i]] = 1
        fill[i] += 1
        nbr[fill[j]] = i
        eid[fill[j]] = e
        sign[fill[j]] = -1
        fill[j] += 1
    comp = -np.ones(n_nodes, np.int64)
    offset = np.zeros((n_nodes, 3), np.int64)
    cycles = np.zeros((n_e + 1, 3), np.int64)
    n_cyc = 0
    used = np.zeros(n_e, np.bool_)
    queue = np.empty(n_nodes, np.int64)
    n_comp = 0
    for root in range(n_nodes):
        if comp[root] >= 0 or deg[root] == 0:
            continue
        comp[root] = n_comp
        head, tail = 0, 1
        queue[0] = root
        while head < tail:
            i = queue[head]
            head += 1
            for p in range(start[i], start[i + 1]):
                e = eid[p]
                if used[e]:
                    continue
                used[e] = True
                j = nbr[p]
                s = sign[p]
                if comp[j] < 0:
                    comp[j] = n_comp
                    for d in range(3):
                        offset[j, d] = offset[i, d] + s * shifts[e, d]
                    queue[tail] = j
                    tail += 1
                else:
                    for d in range(3):
                        cycles[n_cyc, d] = offset[i, d] + s * shifts[e, d] - offset[j, d]
                    n_cyc += 1
        n_comp += 1
    return comp, cycles[:n_cyc]


@nb.njit(cache=True)
def _echelon_pivots(vectors):
    """Integer row reduction of (k, 3) vectors; returns (rank, product of |pivots|)."""
    m = vectors.copy()
    n = m.shape[0]
    row = 0
    prod = 1
    for col in range(3):
        while True:
            best = -1
            best_val = 0
            for r in range(row, n):
                v = abs(m[r, col])
                if v != 0 and (best < 0 or v < best_val):
                    best = r
                    best_val = v
            if best < 0:
                break
            for d in range(3):
                m[row, d], m[best, d] = m[best, d], m[row, d]
            done = True
            for r in range(row + 1, n):
                if m[r, col] != 0:
                    q = m[r, col] // m[row, col]
                    for d in range(3):
                        m[r, d] -= q * m[row, d]
                    if m[r, col] != 0:
                        done = False
            if done:
                prod *= abs(m[row, col])
                row += 1
                break
    return row, prod


def lattice_index(vectors: np.ndarray) -> tuple[int, int]:
    """(rank, index) of the integer lattice spanned by ``vectors`` (k, 3) inside Z^3.

    ``index`` is the volume of the spanned lattice (1 when it is all of Z^3); 0 if rank < 3.
    Exact integer row reduction.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.int64).reshape(-1, 3)
    rank, prod = _echelon_pivots(vectors)
    return int(rank), (int(prod) if rank == 3 else 0)


def periodic_rank_and_components(n_nodes: int, struts: np.ndarray, shifts: np.ndarray) -> PeriodicConnectivity:
    """Connectivity of the infinite periodic tessellation of a frame.

    Parameters
    ----------
    n_nodes : number of nodes in the cell (isolated nodes are ignored).
    struts : (E, 2) int node indices.  shifts : (E, 3) int periodic shifts.

    Returns
    -------
    PeriodicConnectivity(n_components, rank, index): components of the quotient graph; the
    dimension spanned by the cycle vectors of the largest component (3 = load paths in all
    three directions); and the index of the lattice they span (1 = the tessellation of that
    component is a single connected network, k > 1 = k interpenetrating copies).
    """
    struts = np.ascontiguousarray(struts, dtype=np.int64)
    shifts = np.ascontiguousarray(shifts, dtype=np.int64)
    comp, cycles = _cycle_vectors(int(n_nodes), struts, shifts)
    n_comp = int(comp.max()) + 1 if len(comp) and comp.max() >= 0 else 0
    if n_comp == 0:
        return PeriodicConnectivity(0, 0, 0)
    if n_comp > 1:  # rank of the largest component only
        sizes = np.bincount(comp[comp >= 0])
        keep = comp[struts[:, 0]] == int(np.argmax(sizes))
        comp2, cycles = _cycle_vectors(int(n_nodes), struts[keep], shifts[keep])
    rank, index = lattice_index(cycles) if len(cycles) else (0, 0)
    return PeriodicConnectivity(n_comp, rank, index)


def merge_collinear(frame: PeriodicFrame, tol: float = 1e-9) -> PeriodicFrame:
    """Remove nodes joining exactly two collinear, opposite struts of equal radius.

    A straight strut split by such a node is mechanically the same strut; removing the node
    gives one representation per physical structure (used by canonical keys). Returns a new
    frame (the input if nothing merges).
    """
    from trussvae.fem.frame import PeriodicFrame

    struts, shifts, radii = frame.struts.copy(), frame.shifts.copy(), frame.radii()
    alive = np.ones(len(struts), bool)
    pos = frame.nodes
    lv = frame.lattice_vectors
    changed = True
    while changed:
        changed = False
        deg = np.bincount(struts[alive].ravel(), minlength=frame.n_nodes)
        for k in np.flatnonzero(deg == 2):
            ends = [e for e in np.flatnonzero(alive & ((struts[:, 0] == k) | (struts[:, 1] == k)))]
            if len(ends) != 2 or radii[ends[0]] != radii[ends[1]]:
                continue
            far = []  # (node, shift of far node relative to k's cell)
            for e in ends:
                i, j = struts[e]
                far.append((j, shifts[e]) if i == k else (i, -shifts[e]))
            v0 = (pos[far[0][0]] + far[0][1] - pos[k]) @ lv
            v1 = (pos[far[1][0]] + far[1][1] - pos[k]) @ lv
            n0, n1 = np.linalg.norm(v0), np.linalg.norm(v1)
            if np.linalg.norm(np.cross(v0, v1)) > tol * n0 * n1 or v0 @ v1 >= 0:
                continue
            (a, sa), (b, sb) = far
            if a == b and np.array_equal(sa, sb):
                continue
            alive[ends[1]] = False
            struts[ends[0]] = (a, b)
            shifts[ends[0]] = sb - sa
            changed = True
            break
    if alive.all():
        return frame
    struts, shifts, radii = struts[alive], shifts[alive], radii[alive]
    used = np.unique(struts)
    remap = -np.ones(frame.n_nodes, np.int64)
    remap[used] = np.arange(len(used))
    radius = frame.radius if np.ndim(frame.radius) == 0 else radii
    return PeriodicFrame(lv, pos[used], remap[struts], shifts, radius)
