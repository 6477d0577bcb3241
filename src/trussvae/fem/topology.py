"""Graph kernels on periodic strut arrays: components, cycle vectors, periodic rank and index.

Pure functions on arrays (no I/O, no frame type): the bottom of :mod:`trussvae.fem`, used by
:class:`~trussvae.fem.frame.PeriodicFrame` (periodic connectivity of any frame) and by the
design-space validity rules (:mod:`trussvae.design_space.validity`). Collinear strut merging,
which needs the frame type, is :func:`trussvae.fem.frame.merge_collinear`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["periodic_rank_and_components", "lattice_index", "cycle_vectors", "PeriodicConnectivity"]


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
def cycle_vectors(n_nodes, struts, shifts):
    """BFS over the quotient graph of a periodic graph (numba; int64 arrays).

    ``struts`` (E, 2) node indices, ``shifts`` (E, 3) periodic cell shifts of the second end.
    Returns ``(component id per node (-1 for isolated nodes), cycle vectors (C, 3))``: one
    net cell shift per non-tree strut, spanning the periodic lattice of each component.
    """
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
    comp, cycles = cycle_vectors(int(n_nodes), struts, shifts)
    n_comp = int(comp.max()) + 1 if len(comp) and comp.max() >= 0 else 0
    if n_comp == 0:
        return PeriodicConnectivity(0, 0, 0)
    if n_comp > 1:  # rank of the largest component only
        sizes = np.bincount(comp[comp >= 0])
        keep = comp[struts[:, 0]] == int(np.argmax(sizes))
        comp2, cycles = cycle_vectors(int(n_nodes), struts[keep], shifts[keep])
    rank, index = lattice_index(cycles) if len(cycles) else (0, 0)
    return PeriodicConnectivity(n_comp, rank, index)
