"""Cheap physics estimate of the effective stiffness: a k-hop Rayleigh-Ritz relaxation (no learning).

The exact homogenization (:mod:`trussvae.fem.linear`) minimises the cell energy

``1/2 (w^T K w + 2 w^T F eps + eps^T K_ee eps)``

over all periodic fluctuations ``w`` (``C = (K_ee - F K^{-1} F^T) / V``). This module minimises it over
a small trial space instead (Rayleigh-Ritz), built by ``hops`` steps of a block-Jacobi Krylov
sequence started from the affine residual:

``V_1 = P F^T``,  ``V_{j+1} = P K V_j``   (``P`` = the inverse of the 6x6 node blocks of ``K``)

(orthonormalised block by block), so hop ``j`` lets every node relax against its ``j``-ring of
neighbours: ``hops = 0`` is the affine (Voigt) bound ``K_ee / V``, ``hops = 1`` relaxes every node
alone (one 6x6 solve per node), ``hops = 2`` couples each node to its neighbours' relaxation. With
``W = [V_1 .. V_hops]`` (6 hops columns, shared by all six load cases)

``C_R = (K_ee - (W^T F^T)^T (W^T K W)^+ (W^T F^T)) / V``.

Because ``W`` is a subspace of all fluctuations, ``C_R - C`` is positive semi-definite (an upper
bound in the energy sense: the estimate is never softer than the FE, in any direction) and it
decreases monotonically with ``hops`` (nested spaces). Cost per structure: one assembly, ``N``
6x6 eigen-solves, ``hops`` dense mat-vecs with 6 columns and one (6 hops)^2 eigen-solve; no
factorisation of ``K``. Used as a physics-aware input of the model (``model.physics=ritz``,
docs/model.md); accuracy against the FE: ``python benchmarks/bench_ritz.py``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trussvae.fem.beam import beam_flag
from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S
from trussvae.fem.linear import pack_frames
from trussvae.fem.periodic import assemble_packed

__all__ = ["ritz_stiffness_many", "ritz_stiffness", "DEFAULT_HOPS"]

#: default number of relaxation hops (docs/model.md: the 2-hop estimate's accuracy)
DEFAULT_HOPS = 2
_EIG_CUT = 1e-12


@nb.njit(cache=True)
def _pinv_sym(A, cut):
    """Pseudo-inverse of a symmetric positive semi-definite matrix (eigenvalues below cut*max dropped)."""
    lam, Q = np.linalg.eigh(A)
    top = max(lam[-1], 0.0)
    inv = np.zeros_like(lam)
    for i in range(lam.shape[0]):
        if lam[i] > cut * top and lam[i] > 0.0:
            inv[i] = 1.0 / lam[i]
    return (Q * inv) @ Q.T


@nb.njit(cache=True)
def _node_block(k):
    """First reduced DOF and width of node ``k``'s block: node 0 keeps its 3 rotations, the others 6 DOFs."""
    return (0, 3) if k == 0 else (6 * k - 3, 6)


@nb.njit(cache=True)
def _apply_blocks(P, X):
    """Block-diagonal preconditioner (n_nodes, 6, 6) times X (n, m) (blocks of :func:`_node_block`)."""
    Y = np.zeros_like(X)
    for k in range(P.shape[0]):
        a, w = _node_block(k)
        for i in range(w):
            for c in range(X.shape[1]):
                acc = 0.0
                for j in range(w):
                    acc += P[k, i, j] * X[a + j, c]
                Y[a + i, c] = acc
    return Y


@nb.njit(cache=True, nogil=True)
def ritz_batch(node_off, strut_off, cells, nodes, struts, shifts, radii, E, nu, timoshenko, hops, C):
    """k-hop Rayleigh-Ritz stiffness of every structure of a packed batch (see module docstring).

    The packed arrays are those of :func:`trussvae.fem.linear.pack_frames`; ``C`` (S, 6, 6) is filled.
    A structure without struts gets NaN.
    """
    for s in range(node_off.shape[0] - 1):
        if strut_off[s + 1] == strut_off[s]:
            C[s] = np.nan
            continue
        K, F, Kee, n_used, vol = assemble_packed(s, node_off, strut_off, cells, nodes, struts, shifts, radii, E, nu,
                                                 timoshenko)
        n = 6 * n_used - 3
        Ks = 0.5 * (Kee + Kee.T)
        if hops <= 0:
            C[s] = Ks / vol
            continue
        # block-Jacobi preconditioner: the pseudo-inverse of every node's block of K
        P = np.zeros((n_used, 6, 6))
        for k in range(n_used):
            a, w = _node_block(k)
            P[k, :w, :w] = _pinv_sym(K[a:a + w, a:a + w].copy(), _EIG_CUT)
        m = 6 * hops
        W = np.zeros((n, m))
        V = _apply_blocks(P, np.ascontiguousarray(F.T))
        for h in range(hops):
            # block Arnoldi: orthonormalise the new directions against all earlier ones (modified
            # Gram-Schmidt, twice); a direction already spanned (relative norm < 1e-10) is dropped.
            # The span, hence the estimate, is that of the plain Krylov sequence, better conditioned.
            for c in range(6):
                v = V[:, c].copy()
                nrm0 = np.sqrt(np.sum(v * v))
                if nrm0 == 0.0:
                    continue
                for _ in range(2):
                    for q in range(6 * h + c):
                        v -= np.sum(W[:, q] * v) * W[:, q]
                nrm = np.sqrt(np.sum(v * v))
                if nrm > 1e-10 * nrm0:
                    W[:, 6 * h + c] = v / nrm
            if h + 1 < hops:
                V = _apply_blocks(P, K @ np.ascontiguousarray(W[:, 6 * h:6 * h + 6]))
        KW = K @ W
        Kr = W.T @ KW
        Kr = 0.5 * (Kr + Kr.T)
        Fr = W.T @ F.T
        Cr = Ks - Fr.T @ _pinv_sym(Kr, _EIG_CUT) @ Fr
        C[s] = 0.5 * (Cr + Cr.T) / vol


def ritz_stiffness_many(frames, hops: int = DEFAULT_HOPS, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S,
                        beam: str = DEFAULT_BEAM) -> np.ndarray:
    """(n, 6, 6) k-hop Rayleigh-Ritz stiffness estimates of many frames (Voigt, engineering shear, units
    of E_s; an upper bound of :func:`~trussvae.fem.linear.homogenize_many` in the energy sense).

    Mechanisms are not detected: their estimate is finite (and stiffer than the FE, which is zero
    in the mechanism direction). Frames without struts give NaN."""
    if int(hops) != hops or hops < 0:
        raise ValueError(f"hops must be a non-negative integer, got {hops}")
    frames = list(frames)
    C = np.full((len(frames), 6, 6), np.nan)
    if frames:
        ritz_batch(*pack_frames(frames), float(E_s), float(nu_s), beam_flag(beam), int(hops), C)
    return C


def ritz_stiffness(frame, hops: int = DEFAULT_HOPS, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S,
                   beam: str = DEFAULT_BEAM) -> np.ndarray:
    """(6, 6) k-hop Rayleigh-Ritz stiffness estimate of one frame (:func:`ritz_stiffness_many`)."""
    return ritz_stiffness_many([frame], hops, E_s, nu_s, beam)[0]
