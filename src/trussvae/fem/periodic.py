"""Periodic DOF map and assembly of the reduced cell system (numba kernels).

Kinematics of the unit cell under a macroscopic strain ``eps`` (symmetric 3x3):

* translation of node ``i`` at Cartesian position ``x``: ``u = eps x + w_i`` with ``w`` periodic
  (the same in every cell), so a strut ``(i, j, s)`` with vector ``L = x_j + s A - x_i`` sees the
  relative end displacement ``u_b - u_a = w_j - w_i + eps L``;
* rotations ``theta_i`` are periodic (no macroscopic rotation: ``eps`` is symmetric).

The fluctuation DOFs are ``[w_i, theta_i]`` per node (6 per node). Translating all ``w`` is a
zero-energy mode, removed by fixing ``w_0 = 0``: the reduced DOF of node ``k``, component ``c``
(0-2 translation, 3-5 rotation) is ``6 k + c - 3``, ``n = 6 N - 3`` in all.

For the six Voigt unit strains ``eps^(m)`` (order 11, 22, 33, 23, 13, 12, engineering shear: a
unit ``gamma_23`` is ``eps_23 = eps_32 = 1/2``) the strut end b is displaced by
``Q[:, m] = eps^(m) L``. With the element matrix ``K_e`` the cell energy is
``1/2 (w^T K w + 2 w^T F eps + eps^T K_ee eps)``, assembled here as

``K = sum_e T_e^T K_e T_e``,  ``F = sum_e T_e^T K_e[:, 6:9] Q_e``,
``K_ee = sum_e Q_e^T K_e[6:9, 6:9] Q_e``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trussvae.fem.beam import beam_flag, fill_element_stiffness
from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S

__all__ = ["VOIGT_STRAIN_BASIS", "reduced_dof", "assemble_cell", "cell_geometry", "assemble_packed",
           "assemble_system"]


def _voigt_strain_basis() -> np.ndarray:
    basis = np.zeros((6, 3, 3))
    for m, (p, q) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
        basis[m, p, q] += 0.5 if p != q else 1.0
        basis[m, q, p] += 0.5 if p != q else 0.0
    return basis


#: (6, 3, 3) strain tensors of the six unit Voigt strains (engineering shear: eps_23 = 1/2)
VOIGT_STRAIN_BASIS = _voigt_strain_basis()


@nb.njit(cache=True)
def reduced_dof(node, comp):
    """Reduced DOF index of (node, component); -1 for the fixed translations of node 0."""
    return 6 * node + comp - 3


@nb.njit(cache=True)
def assemble_cell(vectors, ii, jj, radii, E, nu, timoshenko, K, F, Kee):
    """Add all struts of one cell to the reduced system (in place).

    Parameters
    ----------
    vectors : (E, 3) Cartesian strut vectors.  ii, jj : (E,) int64 end nodes.
    radii : (E,) strut radii.  E, nu : base material.  timoshenko : 1 or 0.
    K : (n, n) zeroed, ``n = 6 N - 3``; full symmetric matrix is written.
    F : (6, n) zeroed, load vectors of the six unit Voigt strains (row m = load case m).
    Kee : (6, 6) zeroed, macro-macro energy block.
    """
    ke = np.zeros((12, 12))
    q = np.zeros((3, 6))
    kq = np.zeros((12, 6))
    dofs = np.zeros(12, np.int64)
    for e in range(vectors.shape[0]):
        lx, ly, lz = vectors[e, 0], vectors[e, 1], vectors[e, 2]
        fill_element_stiffness(lx, ly, lz, radii[e], E, nu, timoshenko, ke)
        # Q = eps^(m) L for the six engineering Voigt strains
        for m in range(6):
            for p in range(3):
                q[p, m] = 0.0
        q[0, 0] = lx
        q[1, 1] = ly
        q[2, 2] = lz
        q[1, 3] = 0.5 * lz
        q[2, 3] = 0.5 * ly
        q[0, 4] = 0.5 * lz
        q[2, 4] = 0.5 * lx
        q[0, 5] = 0.5 * ly
        q[1, 5] = 0.5 * lx
        for a in range(12):
            for m in range(6):
                s = 0.0
                for p in range(3):
                    s += ke[a, 6 + p] * q[p, m]
                kq[a, m] = s
        for m in range(6):
            for n in range(6):
                s = 0.0
                for p in range(3):
                    s += q[p, m] * kq[6 + p, n]
                Kee[m, n] += s
        for c in range(6):
            dofs[c] = 6 * ii[e] + c - 3
            dofs[6 + c] = 6 * jj[e] + c - 3
        for a in range(12):
            da = dofs[a]
            if da < 0:
                continue
            for m in range(6):
                F[m, da] += kq[a, m]
            for b in range(12):
                db = dofs[b]
                if db >= 0:
                    K[da, db] += ke[a, b]


@nb.njit(cache=True)
def cell_geometry(cell, nodes, struts, shifts):
    """Strut vectors (E, 3), compact end indices (E,) x2, number of used nodes, cell volume.

    Nodes without struts carry nothing and are dropped (their DOFs would be singular).
    """
    n_nodes, n_e = nodes.shape[0], struts.shape[0]
    used = np.zeros(n_nodes, np.int64)
    for e in range(n_e):
        used[struts[e, 0]] = 1
        used[struts[e, 1]] = 1
    remap = np.empty(n_nodes, np.int64)
    k = 0
    for i in range(n_nodes):
        remap[i] = k
        k += used[i]
    vectors = np.empty((n_e, 3))
    ii = np.empty(n_e, np.int64)
    jj = np.empty(n_e, np.int64)
    for e in range(n_e):
        a, b = struts[e, 0], struts[e, 1]
        ii[e], jj[e] = remap[a], remap[b]
        for c in range(3):
            v = 0.0
            for d in range(3):
                v += (nodes[b, d] + shifts[e, d] - nodes[a, d]) * cell[d, c]
            vectors[e, c] = v
    vol = (cell[0, 0] * (cell[1, 1] * cell[2, 2] - cell[1, 2] * cell[2, 1])
           - cell[0, 1] * (cell[1, 0] * cell[2, 2] - cell[1, 2] * cell[2, 0])
           + cell[0, 2] * (cell[1, 0] * cell[2, 1] - cell[1, 1] * cell[2, 0]))
    return vectors, ii, jj, k, vol


@nb.njit(cache=True)
def assemble_packed(s, node_off, strut_off, cells, nodes, struts, shifts, radii, E, nu, timoshenko):
    """Reduced system of structure ``s`` of a packed batch (``fem.linear.pack_frames``):
    ``K`` (n, n), ``F`` (6, n), ``K_ee`` (6, 6), the number of used nodes and the cell volume."""
    n0, e0, e1 = node_off[s], strut_off[s], strut_off[s + 1]
    vectors, ii, jj, n_used, vol = cell_geometry(cells[s], nodes[n0:node_off[s + 1]], struts[e0:e1],
                                                 shifts[e0:e1])
    n = 6 * n_used - 3
    K = np.zeros((n, n))
    F = np.zeros((6, n))
    Kee = np.zeros((6, 6))
    assemble_cell(vectors, ii, jj, radii[e0:e1], E, nu, timoshenko, K, F, Kee)
    return K, F, Kee, n_used, vol


def assemble_system(frame, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S, beam: str = DEFAULT_BEAM):
    """Reduced periodic system of one frame (for inspection and tests).

    Returns
    -------
    K : (n, n) stiffness of the fluctuations, ``n = 6 N - 3``.
    F : (6, n) load vectors.  Kee : (6, 6) macro block (see module docstring).
    """
    n = 6 * frame.n_nodes - 3
    K, F, Kee = np.zeros((n, n)), np.zeros((6, n)), np.zeros((6, 6))
    assemble_cell(np.ascontiguousarray(frame.strut_vectors()), frame.struts[:, 0].copy(),
                  frame.struts[:, 1].copy(), frame.radii(), float(E_s), float(nu_s), beam_flag(beam),
                  K, F, Kee)
    return K, F, Kee
