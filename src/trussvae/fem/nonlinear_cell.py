"""Periodic-cell model and numba assembly for the nonlinear solver (:mod:`trussvae.fem.nonlinear`).

Unknowns: per node the periodic fluctuation ``w`` (node position ``x = F X + w``) and a rotation
matrix ``R`` (updated multiplicatively), plus the nine components of the macroscopic
deformation gradient ``F``. Every strut is split into ``n_sub`` corotational elements
(:mod:`trussvae.fem.corotational`); the ``n_sub - 1`` interior nodes of a strut are condensed
statically strut by strut (exact block elimination of the Newton system, recovered by
back-substitution; an indefinite interior block is shifted to positive definite, the solver
then treats the state as unstable and shortens the interior correction with the trust radius),
so the global system only has the cell nodes: DOF ``6 k + c - 3`` for node
``k`` component ``c`` (translations of node 0 fixed), then ``F_pq`` at ``6 N - 3 + 3 p + q``.

An element from chain node a to chain node b with reference vector ``D`` has the chord
``d = F D + w_b - w_a`` (for the last element of strut ``i -> j + s`` this is exactly
``F (X_j + s A - X_i) / n_sub``-type periodic relation), so ``dd/dF_pq = e_p D_q``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trussvae.fem.corotational import element_kernel as _element
from trussvae.fem.corotational import rotation_matrix


@nb.njit(cache=True)
def _ldl_solve(A, B, n, nrhs):
    """In-place symmetric elimination without pivoting: A (n,n) -> B = A^-1 B. Returns #neg pivots."""
    neg = 0
    for k in range(n):
        piv = A[k, k]
        if piv < 0.0:
            neg += 1
        if piv == 0.0:
            piv = 1e-300
        for i in range(k + 1, n):
            f = A[i, k] / piv
            if f != 0.0:
                for j in range(k + 1, n):
                    A[i, j] -= f * A[k, j]
                for j in range(nrhs):
                    B[i, j] -= f * B[k, j]
        for j in range(nrhs):
            B[k, j] /= piv
        for i in range(k + 1, n):
            A[k, i] /= piv
    for k in range(n - 1, -1, -1):
        for i in range(k + 1, n):
            f = A[k, i]
            if f != 0.0:
                for j in range(nrhs):
                    B[k, j] -= f * B[i, j]
    return neg


@nb.njit(cache=True)
def _scatter_element(g, H, D, ia, ib, iF, Kl, rl):
    """Add an element's gradient/Hessian in ``(d, phi_a, phi_b)`` to the strut-local system.

    Local DOFs: translations/rotations of end a at ``ia..ia+5``, of end b at ``ib..ib+5``, ``F_pq``
    at ``iF + 3 p + q``; ``d = F D + w_b - w_a`` so ``dd/dw_a = -I``, ``dd/dw_b = I``,
    ``dd_p/dF_pq = D_q``.
    """
    # generalised 12 end DOFs: index j -> (element variable, coefficient)
    for i in range(3):
        rl[ia + i] -= g[i]
        rl[ib + i] += g[i]
        rl[ia + 3 + i] += g[3 + i]
        rl[ib + 3 + i] += g[6 + i]
        for q in range(3):
            rl[iF + 3 * i + q] += D[q] * g[i]
    for i in range(3):
        for j in range(3):
            hdd = H[i, j]
            Kl[ia + i, ia + j] += hdd
            Kl[ia + i, ib + j] -= hdd
            Kl[ib + i, ia + j] -= hdd
            Kl[ib + i, ib + j] += hdd
            hda = H[i, 3 + j]
            hdb = H[i, 6 + j]
            Kl[ia + i, ia + 3 + j] -= hda
            Kl[ia + 3 + j, ia + i] -= hda
            Kl[ib + i, ia + 3 + j] += hda
            Kl[ia + 3 + j, ib + i] += hda
            Kl[ia + i, ib + 3 + j] -= hdb
            Kl[ib + 3 + j, ia + i] -= hdb
            Kl[ib + i, ib + 3 + j] += hdb
            Kl[ib + 3 + j, ib + i] += hdb
            Kl[ia + 3 + i, ia + 3 + j] += H[3 + i, 3 + j]
            Kl[ia + 3 + i, ib + 3 + j] += H[3 + i, 6 + j]
            Kl[ib + 3 + i, ia + 3 + j] += H[6 + i, 3 + j]
            Kl[ib + 3 + i, ib + 3 + j] += H[6 + i, 6 + j]
    # F rows/columns: K[F_pq, x] = D_q K[d_p, x]
    for p in range(3):
        for q in range(3):
            fpq = iF + 3 * p + q
            Dq = D[q]
            for j in range(3):
                v = Dq * H[p, j]
                Kl[fpq, ia + j] -= v
                Kl[ia + j, fpq] -= v
                Kl[fpq, ib + j] += v
                Kl[ib + j, fpq] += v
                va = Dq * H[p, 3 + j]
                Kl[fpq, ia + 3 + j] += va
                Kl[ia + 3 + j, fpq] += va
                vb = Dq * H[p, 6 + j]
                Kl[fpq, ib + 3 + j] += vb
                Kl[ib + 3 + j, fpq] += vb
            for r in range(3):
                for t in range(3):
                    Kl[fpq, iF + 3 * r + t] += Dq * D[t] * H[p, r]


@nb.njit(cache=True)
def assemble(chain, Dvec, E0, props, l0, w, R, F, n_sub, shallow, K, r, gF, X, out):
    """Energy, condensed residual ``r`` and Hessian ``K`` (full global numbering incl. 9 F DOFs).

    chain : (S, n_sub + 1) node indices of each strut (cell node, interior nodes, cell node).
    Dvec : (S * n_sub, 3) reference element vectors.  E0 : (S * n_sub, 3, 3) reference triads.
    props : (S * n_sub, 4) ``EA, k_aa, k_ab, GJ/l0``.  l0 : (S * n_sub,).
    w : (M, 3) fluctuations, R : (M, 3, 3) nodal rotations, F : (3, 3).
    K (n, n), r (n,), gF (9,) zeroed on entry; gF receives dW/dF (uncondensed).
    X : (S, 6 (n_sub - 1), 22) receives ``K_II^-1 [K_IB | r_I]`` for back-substitution.
    out : (3,) receives energy, #negative interior pivots, ``r_I^T K_II^-1 r_I``.
    """
    n_struts = chain.shape[0]
    nl = 6 * (n_sub + 1) + 9
    nm = 6 * (n_sub - 1)
    Kl = np.zeros((nl, nl))
    rl = np.zeros(nl)
    g = np.zeros(9)
    H = np.zeros((9, 9))
    bnd = np.zeros(21, np.int64)
    gdof = np.zeros(21, np.int64)
    for c in range(6):
        bnd[c] = c
        bnd[6 + c] = 6 * n_sub + c
    for k in range(9):
        bnd[12 + k] = 6 * (n_sub + 1) + k
    A = np.zeros((max(nm, 1), max(nm, 1)))
    B = np.zeros((max(nm, 1), 22))
    ta = np.empty((3, 3))
    tb = np.empty((3, 3))
    V, Gb, Jm, Hbb = np.empty((6, 3)), np.empty((9, 9)), np.empty((6, 9)), np.empty((9, 9))
    d2W, fx, fxx = np.empty((6, 6)), np.empty((2, 3)), np.empty((2, 3, 3))
    d = np.empty(3)
    energy = 0.0
    neg = 0.0
    quad = 0.0
    nnode_dofs = K.shape[0] - 9
    for s in range(n_struts):
        Kl[:, :] = 0.0
        rl[:] = 0.0
        for k in range(n_sub):
            e = s * n_sub + k
            a = chain[s, k]
            b = chain[s, k + 1]
            for p in range(3):
                d[p] = w[b, p] - w[a, p]
                for q in range(3):
                    d[p] += F[p, q] * Dvec[e, q]
            for p in range(3):
                for q in range(3):
                    sa = 0.0
                    sb = 0.0
                    for m in range(3):
                        sa += R[a, p, m] * E0[e, m, q]
                        sb += R[b, p, m] * E0[e, m, q]
                    ta[p, q] = sa
                    tb[p, q] = sb
            energy += _element(d, ta, tb, l0[e], props[e, 0], props[e, 1], props[e, 2], props[e, 3],
                               shallow, g, H, V, Gb, Jm, Hbb, d2W, fx, fxx)
            _scatter_element(g, H, Dvec[e], 6 * k, 6 * (k + 1), 6 * (n_sub + 1), Kl, rl)
        for m in range(9):
            gF[m] += rl[6 * (n_sub + 1) + m]
        # static condensation of the interior nodes
        if nm > 0:
            for i in range(nm):
                for j in range(nm):
                    A[i, j] = Kl[6 + i, 6 + j]
                for j in range(21):
                    B[i, j] = Kl[6 + i, bnd[j]]
                B[i, 21] = rl[6 + i]
            nneg = _ldl_solve(A, B, nm, 22)
            neg += nneg
            shift = 0.0
            while nneg > 0:
                # interior block indefinite (a strut segment is buckling): shifted, positive
                # definite interior block so that the condensed model stays a descent model
                if shift == 0.0:
                    for i in range(nm):
                        shift = max(shift, abs(Kl[6 + i, 6 + i]))
                    shift *= 1e-4
                else:
                    shift *= 10.0
                for i in range(nm):
                    for j in range(nm):
                        A[i, j] = Kl[6 + i, 6 + j]
                    A[i, i] += shift
                    for j in range(21):
                        B[i, j] = Kl[6 + i, bnd[j]]
                    B[i, 21] = rl[6 + i]
                nneg = _ldl_solve(A, B, nm, 22)
            for i in range(nm):
                for j in range(22):
                    X[s, i, j] = B[i, j]
                quad += rl[6 + i] * B[i, 21]
        # scatter the condensed boundary system
        for c in range(6):
            gdof[c] = 6 * chain[s, 0] + c - 3
            gdof[6 + c] = 6 * chain[s, n_sub] + c - 3
        for m in range(9):
            gdof[12 + m] = nnode_dofs + m
        for i in range(21):
            gi = gdof[i]
            if gi < 0:
                continue
            li = bnd[i]
            v = rl[li]
            for m in range(nm):
                v -= Kl[li, 6 + m] * B[m, 21]
            r[gi] += v
            for j in range(21):
                gj = gdof[j]
                if gj < 0:
                    continue
                v = Kl[li, bnd[j]]
                for m in range(nm):
                    v -= Kl[li, 6 + m] * B[m, j]
                K[gi, gj] += v
    out[0] = energy
    out[1] = neg
    out[2] = quad
    return energy


@nb.njit(cache=True)
def apply_update(chain, n_sub, n_cell, w, R, F, dfull, X, scale, alpha=1.0):
    """State update by ``scale * dfull`` (full global numbering) + interior back-substitution.

    Interior increments ``- (X_B dB + alpha X_r)`` use ``X`` from the last :func:`assemble`
    (``alpha = 1``: exact minimiser of the interior quadratic model for the boundary step ``dB``;
    ``alpha < 1`` shortens the interior residual correction inside a trust region).
    """
    nnode = K_dofs = 6 * n_cell - 3
    for k in range(n_cell):
        if k > 0:
            for c in range(3):
                w[k, c] += scale * dfull[6 * k + c - 3]
        Rk = rotation_matrix(scale * dfull[6 * k], scale * dfull[6 * k + 1], scale * dfull[6 * k + 2])
        R[k] = Rk @ R[k]
    for p in range(3):
        for q in range(3):
            F[p, q] += scale * dfull[K_dofs + 3 * p + q]
    nm = 6 * (n_sub - 1)
    dB = np.zeros(21)
    for s in range(chain.shape[0]):
        if nm == 0:
            break
        for c in range(6):
            g0 = 6 * chain[s, 0] + c - 3
            g1 = 6 * chain[s, n_sub] + c - 3
            dB[c] = scale * dfull[g0] if g0 >= 0 else 0.0
            dB[6 + c] = scale * dfull[g1] if g1 >= 0 else 0.0
        for m in range(9):
            dB[12 + m] = scale * dfull[nnode + m]
        for kk in range(1, n_sub):
            node = chain[s, kk]
            inc = np.zeros(6)
            for c in range(6):
                i = 6 * (kk - 1) + c
                v = alpha * X[s, i, 21]
                for j in range(21):
                    v += X[s, i, j] * dB[j]
                inc[c] = -v
            for c in range(3):
                w[node, c] += inc[c]
            R[node] = rotation_matrix(inc[3], inc[4], inc[5]) @ R[node]
