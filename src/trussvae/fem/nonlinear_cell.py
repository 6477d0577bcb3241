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
from trussvae.fem.corotational import rotation_matrix_into


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
def _scatter_element(g, H, D, ia, ib, iF, Kl, rl, skipF):
    """Add an element's gradient/Hessian in ``(d, phi_a, phi_b)`` to the strut-local system.

    Local DOFs: translations/rotations of end a at ``ia..ia+5``, of end b at ``ib..ib+5``, ``F_pq``
    at ``iF + 3 p + q``; ``d = F D + w_b - w_a`` so ``dd/dw_a = -I``, ``dd/dw_b = I``,
    ``dd_p/dF_pq = D_q``. The rows and columns of the ``F_pq`` with ``skipF[3 p + q]`` are left out
    (zero), except in the gradient ``rl``.
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
            if skipF[3 * p + q]:
                continue
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
                    if not skipF[3 * r + t]:
                        Kl[fpq, iF + 3 * r + t] += Dq * D[t] * H[p, r]


@nb.njit(cache=True)
def assemble(chain, Dvec, E0, props, l0, w, R, F, n_sub, shallow, K, r, gF, X, out, full=True):
    """Energy, condensed residual ``r`` and Hessian ``K`` (full global numbering incl. 9 F DOFs).

    chain : (S, n_sub + 1) node indices of each strut (cell node, interior nodes, cell node).
    Dvec : (S * n_sub, 3) reference element vectors.  E0 : (S * n_sub, 3, 3) reference triads.
    props : (S * n_sub, 4) ``EA, k_aa, k_ab, GJ/l0``.  l0 : (S * n_sub,).
    w : (M, 3) fluctuations, R : (M, 3, 3) nodal rotations, F : (3, 3).
    K (n, n), r (n,), gF (9,) zeroed on entry; gF receives dW/dF (uncondensed).
    X : (S, 6 (n_sub - 1), 22) receives ``K_II^-1 [K_IB | r_I]`` for back-substitution.
    out : (3,) receives energy, #negative interior pivots, ``r_I^T K_II^-1 r_I``.
    full : False leaves the rows / columns of ``F21, F31, F32`` (never free: F stays upper triangular)
    out of ``K``, ``r`` and ``X`` (zero there; the solver's setting), True assembles all nine.
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
    act = np.zeros(21, np.int64)  # local boundary indices with a global DOF
    skipF = np.zeros(9, np.bool_)
    if not full:
        skipF[3] = skipF[6] = skipF[7] = True
    for c in range(6):
        bnd[c] = c
        bnd[6 + c] = 6 * n_sub + c
    for k in range(9):
        bnd[12 + k] = 6 * (n_sub + 1) + k
    A = np.zeros((max(nm, 1), max(nm, 1)))
    B = np.zeros((max(nm, 1), 22))
    C = np.zeros(max(nm, 1))
    ta = np.empty((3, 3))
    tb = np.empty((3, 3))
    V, Gb, Jm, Hbb = np.empty((6, 3)), np.empty((9, 9)), np.empty((6, 9)), np.empty((9, 9))
    d2W, fx, fxx = np.empty((6, 6)), np.empty((2, 3)), np.empty((2, 3, 3))
    d = np.empty(3)
    wk, wm = np.empty(56), np.empty((9, 9))
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
                               shallow, g, H, V, Gb, Jm, Hbb, d2W, fx, fxx, wk, wm)
            _scatter_element(g, H, Dvec[e], 6 * k, 6 * (k + 1), 6 * (n_sub + 1), Kl, rl, skipF)
        for m in range(9):
            gF[m] += rl[6 * (n_sub + 1) + m]
        # static condensation of the interior nodes
        if nm > 0:
            for i in range(nm):
                for j in range(nm):
                    A[i, j] = Kl[6 + i, 6 + j]
                for j in range(21):
                    B[i, j] = Kl[6 + i, bnd[j]] if (j < 12 or not skipF[j - 12]) else 0.0
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
                        B[i, j] = Kl[6 + i, bnd[j]] if (j < 12 or not skipF[j - 12]) else 0.0
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
            gdof[12 + m] = -1 if skipF[m] else nnode_dofs + m
        na = 0
        for i in range(21):
            if gdof[i] >= 0:
                act[na] = i
                na += 1
        # (upper triangle of the symmetric Schur complement, mirrored; i != j may share a global DOF
        # when a strut joins a node to its own periodic image)
        for ii in range(na):
            i = act[ii]
            gi = gdof[i]
            li = bnd[i]
            for m in range(nm):
                C[m] = Kl[li, 6 + m]
            v = rl[li]
            for m in range(nm):
                v -= C[m] * B[m, 21]
            r[gi] += v
            if nm == 6:  # two elements per strut: the literal trip count lets LLVM unroll (same operations)
                for jj in range(ii, na):
                    j = act[jj]
                    gj = gdof[j]
                    v = Kl[li, bnd[j]]
                    for m in range(6):
                        v -= C[m] * B[m, j]
                    K[gi, gj] += v
                    if j != i:
                        K[gj, gi] += v
                continue
            for jj in range(ii, na):
                j = act[jj]
                gj = gdof[j]
                v = Kl[li, bnd[j]]
                for m in range(nm):
                    v -= C[m] * B[m, j]
                K[gi, gj] += v
                if j != i:
                    K[gj, gi] += v
    out[0] = energy
    out[1] = neg
    out[2] = quad
    return energy


@nb.njit(cache=True)
def _rotate(R, k, px, py, pz, Q, T):
    """``R[k] <- exp([phi]_x) R[k]`` in place (``Q``, ``T``: (3, 3) scratch)."""
    rotation_matrix_into(px, py, pz, Q)
    for p in range(3):
        for q in range(3):
            T[p, q] = Q[p, 0] * R[k, 0, q] + Q[p, 1] * R[k, 1, q] + Q[p, 2] * R[k, 2, q]
    R[k] = T


@nb.njit(cache=True)
def apply_update(chain, n_sub, n_cell, w, R, F, dfull, X, scale, alpha=1.0):
    """State update by ``scale * dfull`` (full global numbering) + interior back-substitution.

    Interior increments ``- (X_B dB + alpha X_r)`` use ``X`` from the last :func:`assemble`
    (``alpha = 1``: exact minimiser of the interior quadratic model for the boundary step ``dB``;
    ``alpha < 1`` shortens the interior residual correction inside a trust region).
    """
    nnode = K_dofs = 6 * n_cell - 3
    Q, T = np.empty((3, 3)), np.empty((3, 3))
    for k in range(n_cell):
        if k > 0:
            for c in range(3):
                w[k, c] += scale * dfull[6 * k + c - 3]
        _rotate(R, k, scale * dfull[6 * k], scale * dfull[6 * k + 1], scale * dfull[6 * k + 2], Q, T)
    for p in range(3):
        for q in range(3):
            F[p, q] += scale * dfull[K_dofs + 3 * p + q]
    nm = 6 * (n_sub - 1)
    dB = np.zeros(21)
    inc = np.zeros(6)
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
            for c in range(6):
                i = 6 * (kk - 1) + c
                v = alpha * X[s, i, 21]
                for j in range(21):
                    v += X[s, i, j] * dB[j]
                inc[c] = -v
            for c in range(3):
                w[node, c] += inc[c]
            _rotate(R, node, inc[3], inc[4], inc[5], Q, T)


# ---------------------------------------------------------------------------------------------
# Solver kernels: the trust-region Newton iteration of one load increment runs entirely in numba
# (no Python / scipy call per iteration). The load stepping stays in :mod:`trussvae.fem.nonlinear`.
# ---------------------------------------------------------------------------------------------

#: return codes of :func:`newton`
OK, NON_FINITE, SINGULAR, COLLAPSED, NO_CONVERGENCE = 0, 1, 2, 3, 4


@nb.njit(cache=True)
def evaluate(geo, n_sub, shallow, w, R, F, K, r, gF, X, out, full=False):
    """Zero the buffers and :func:`assemble` at the state ``(w, R, F)``; ``geo = (chain, Dvec, E0,
    props, l0)``. Returns the energy."""
    chain, Dvec, E0, props, l0 = geo
    K[:, :] = 0.0
    r[:] = 0.0
    gF[:] = 0.0
    if n_sub < 2:  # (with interior nodes, assemble writes every entry of X)
        X[:, :, :] = 0.0
    return assemble(chain, Dvec, E0, props, l0, w, R, F, n_sub, shallow, K, r, gF, X, out, full)


@nb.njit(cache=True)
def _cholesky(A):
    """(L, True) with ``A = L L^T`` (LAPACK), or (A, False) if A is not positive definite."""
    try:
        return np.linalg.cholesky(A), True
    except Exception:  # noqa: BLE001 - numba raises LinAlgError for a non positive definite matrix
        return A, False


try:  # the LAPACK entry numba's own np.linalg.cholesky calls (numba internals; checked by a test)
    from numba.np.linalg import _LAPACK

    _XXPOTRF = _LAPACK().numba_xxpotrf(nb.types.float64)
except (ImportError, AttributeError):  # pragma: no cover - another numba: the public call below
    _XXPOTRF = None

# The solver keeps Cholesky factors as the *upper* triangle ``U`` of a C-order (n, n) buffer, ``A = U^T U``
# (the strict lower triangle is scratch, never read): LAPACK ``dpotrf`` with uplo 'L' on the buffer, which it
# sees in Fortran order (the transpose), computes exactly that, ~30 % faster here (n = 130-270) than the 'U'
# variant that np.linalg.cholesky calls, and without its copy, zeroing and exception on failure. The solves
# read rows of U (contiguous).

if _XXPOTRF is not None:
    @nb.njit(cache=True)
    def _cholesky_into(A, U):
        """``U`` (n, n, C order) <- the Cholesky factor of the symmetric ``A`` in its upper triangle
        (``A = U^T U``); returns False if ``A`` is not positive definite. ``U`` may be ``A`` (in place)."""
        n = A.shape[0]
        for i in range(n):
            for j in range(i, n):
                U[i, j] = A[i, j]
        return _XXPOTRF(100, 76, n, U.ctypes, n) == 0  # kind 'd', uplo 'L' (Fortran view)
else:  # pragma: no cover
    @nb.njit(cache=True)
    def _cholesky_into(A, U):
        """Fallback of :func:`_cholesky_into` through ``np.linalg.cholesky``."""
        F, ok = _cholesky(A)
        if ok:
            U[:, :] = F.T
        return ok


@nb.njit(cache=True)
def _forward(U, b, y):
    """``y = U^-T b`` (``U`` upper triangular, rows read contiguously)."""
    n = b.shape[0]
    for i in range(n):
        y[i] = b[i]
    for k in range(n):
        yk = y[k] / U[k, k]
        y[k] = yk
        for i in range(k + 1, n):
            y[i] -= U[k, i] * yk


@nb.njit(cache=True)
def _cho_solve(U, b, x):
    """``x = (U^T U)^-1 b`` by forward / backward substitution (row-wise access of ``U``)."""
    n = b.shape[0]
    _forward(U, b, x)
    for i in range(n - 1, -1, -1):
        v = x[i]
        for k in range(i + 1, n):
            v -= U[i, k] * x[k]
        x[i] = v / U[i, i]


@nb.njit(cache=True)
def _model_decrease(gf, z, Kf, alpha, quad):
    """Decrease of the condensed quadratic model for the boundary step ``z`` with the interior residual
    correction scaled by ``alpha`` (``quad = r_I^T K_II^-1 r_I``)."""
    return -(gf @ z + 0.5 * (z @ (Kf @ z))) + (alpha - 0.5 * alpha * alpha) * quad


@nb.njit(cache=True)
def _pnorm(gv, lam, mu):
    s = 0.0
    for i in range(gv.shape[0]):
        v = gv[i] / (lam[i] + mu)
        s += v * v
    return np.sqrt(s)


@nb.njit(cache=True)
def _tr_subproblem(lam, V, gv, radius, rand, rpos):
    """Trust-region step from the eigen-decomposition ``Ks = V diag(lam) V^T`` (``Ks`` indefinite) and
    ``gv = V^T gs``: the minimiser of the quadratic model in the ball of ``radius`` (hard case: along the
    lowest eigenvector, its sign from the gradient, or from the pre-drawn uniform numbers
    ``rand[rpos[0]]`` when the gradient has no component)."""
    n = gv.shape[0]
    lo = max(0.0, -lam[0]) * (1 + 1e-12) + 1e-15 * max(1.0, abs(lam[n - 1]))
    if _pnorm(gv, lam, lo) <= radius:
        if lam[0] >= 0:
            return -(V @ (gv / (lam + lo)))
        mu = -lam[0]
        coef = np.zeros(n)
        for i in range(1, n):
            if abs(lam[i] + mu) > 1e-14 * abs(lam[n - 1]):
                coef[i] = -gv[i] / (lam[i] + mu + 1e-300)
        tau = np.sqrt(max(radius * radius - coef @ coef, 0.0))
        if abs(gv[0]) > 0:
            sign = 1.0 if gv[0] > 0 else -1.0
        else:
            u = rand[rpos[0] % rand.shape[0]]
            rpos[0] += 1
            sign = 1.0 if u < 0.5 else -1.0
        coef[0] = -sign * tau
        return V @ coef
    hi = lo + 1.0
    while _pnorm(gv, lam, hi) > radius:
        hi = lo + 2 * (hi - lo)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _pnorm(gv, lam, mid) > radius:
            lo = mid
        else:
            hi = mid
    return -(V @ (gv / (lam + hi)))


@nb.njit(cache=True)
def _more_sorensen(A, g, radius, S, p, q, rtol=1e-2, max_factor=30):
    """Trust-region step of an indefinite model ``A`` (Moré & Sorensen 1983, Nocedal & Wright Alg. 4.3):
    ``p = -(A + lam I)^-1 g`` with ``lam > -lambda_min(A)`` such that ``|p| = radius`` to ``rtol``, found by
    Newton's method on the secular equation ``1/|p(lam)| = 1/radius`` with shifted Cholesky factorisations
    (a few, each ~1/10 of the cost of the eigen-decomposition it replaces) inside a safeguarding bracket
    ``[lo, hi]`` (Gershgorin bounds; a failed factorisation raises ``lo``). ``S`` (n, n) scratch.
    Returns the number of factorisations, or ``-1`` when it gives up (the hard case, where ``g`` has
    almost no component along the lowest eigenvector and no shift reaches the boundary, or no convergence
    in ``max_factor`` factorisations): the caller then takes the exact step from ``eigh``."""
    n = g.shape[0]
    gn = np.sqrt(g @ g)
    dmin, gmin, gmax = np.inf, np.inf, -np.inf
    for i in range(n):
        rs = 0.0
        for j in range(n):
            if j != i:
                rs += abs(A[i, j])
        dmin = min(dmin, A[i, i])
        gmin = min(gmin, A[i, i] - rs)
        gmax = max(gmax, A[i, i] + rs)
    lo = max(0.0, -dmin, gn / radius - gmax)
    hi = max(0.0, gn / radius - gmin) + 1e-300
    if gn == 0.0 or hi <= lo:
        return -1
    lam = max(lo * 1.01, np.sqrt(lo * hi), 1e-3 * hi)
    for k in range(max_factor):
        if not lo < lam < hi:
            lam = max(np.sqrt(lo * hi), lo + 1e-3 * (hi - lo))
        for i in range(n):
            S[i, i] = A[i, i] + lam
            for j in range(i + 1, n):
                S[i, j] = A[i, j]
        ok = _cholesky_into(S, S)  # in place (it reads and writes the upper triangle only)
        L = S
        if not ok:
            lo = lam
            lam = 0.5 * (lo + hi)
        else:
            _cho_solve(L, g, p)
            for i in range(n):
                p[i] = -p[i]
            pn = np.sqrt(p @ p)
            if abs(pn - radius) <= rtol * radius:
                return k + 1
            if pn < radius:
                hi = lam
            else:
                lo = lam
            _forward(L, p, q)
            qn2 = q @ q
            lam = lam + (pn * pn / qn2) * (pn - radius) / radius
        if hi - lo <= 1e-12 * hi:
            return -1
    return -1


@nb.njit(cache=True)
def _interior_norm(X, n_sub, l_ref):
    """Scaled Euclidean norm of the interior Newton correction ``X_r`` (translations / l_ref)."""
    if n_sub < 2:
        return 0.0
    s = 0.0
    for e in range(X.shape[0]):
        for k in range(n_sub - 1):
            for c in range(6):
                v = X[e, 6 * k + c, 21]
                s += v * v / (l_ref * l_ref) if c < 3 else v * v
    return np.sqrt(s)


@nb.njit(cache=True)
def _free_system(K, r, free, Ds, Kf, gf):
    """Scaled free system ``Kf = Ds K_ff Ds``, ``gf = Ds r_f``; returns ``max|gf|`` (NaN if anything is not
    finite)."""
    nf = free.shape[0]
    gnorm = 0.0
    acc = 0.0  # NaN / inf propagate into the sum
    for i in range(nf):
        fi = free[i]
        gf[i] = r[fi] * Ds[i]
        gnorm = max(gnorm, abs(gf[i]))
        acc += gf[i]
        for j in range(nf):
            v = K[fi, free[j]] * (Ds[i] * Ds[j])
            Kf[i, j] = v
            acc += v * 0.0
    return gnorm if np.isfinite(acc) else np.nan


#: extrapolation only where the Hessian is safely positive definite (see :func:`newton`)
PIVOT_MIN = 1e-2


@nb.njit(cache=True)
def _pivot_ratio(L, A):
    """``min_i L_ii^2 / A_ii`` of the Cholesky factor ``L`` of ``A`` (upper or lower: the diagonal): each pivot
    of the elimination against its diagonal entry; it tends to zero as ``A`` approaches singularity (the
    product of the pivots is ``det A``)."""
    m = np.inf
    for i in range(L.shape[0]):
        m = min(m, L[i, i] * L[i, i] / A[i, i])
    return m


@nb.njit(cache=True)
def newton(geo, n_sub, shallow, n_cell, free, Ds, l_ref, w_ref, w, R, F, K, r, gF, X, out, minimise, radius,
           tol, max_iter, rand, rpos, counts, Lout, i33=-1, extrapolate=False):
    """Equilibrium at the current ``F33``: trust-region Newton in scaled variables (``Ds``).

    The state ``(w, R, F)`` is updated in place; on return ``K, r, gF, X, out`` hold the evaluation at
    the final state. Cholesky Newton step when the condensed Hessian is positive definite (cut to the
    trust radius), trust-region step when it is indefinite (:func:`_more_sorensen`: shifted Cholesky
    factorisations; the eigen-decomposition of :func:`_tr_subproblem` in the hard case); ``minimise=False``:
    plain Newton (bisection of instabilities). Converged: ``max|scaled residual| <= tol * w_ref`` and
    (when minimising) a positive definite Hessian with positive definite interior blocks.

    Returns ``(code, iterations, unstable_seen, positive_definite)``, code one of ``OK``,
    ``NON_FINITE``, ``SINGULAR``, ``COLLAPSED``, ``NO_CONVERGENCE``. ``counts`` (5,) int: adds the
    number of assemblies, Cholesky factorisations, eigen-decompositions (index 2) and shifted Cholesky
    factorisations of the trust-region subproblem (index 4; index 3 counts the caller's tangents), for the
    time split.
    ``Lout`` (nf, nf) receives the Cholesky factor (upper triangle, :func:`_cholesky_into`) of the scaled
    free Hessian at a positive definite converged state (reused by :func:`tangent`).

    ``extrapolate`` (the labels' load path; needs ``i33``, the global index of ``F33``): the last Newton
    step is taken without evaluating the state it leads to, when the iteration is in its quadratic
    regime and predicts that state's residual far below the tolerance. Newton converges quadratically
    (``|g_k+1| ~ c |g_k|^2``); with ``c`` estimated from the two previous residuals, ``|g_k|^3 / |g_k-1|^2``
    is the predicted next residual. When it is below ``tol * w_ref / 10``, the previous step was a full,
    accepted Newton step, the current model is positive definite and its Newton step lies inside the
    trust radius, the step (with the full interior correction) is applied and the evaluation buffers are
    updated to first order: the energy by the model decrease, ``gF[8]`` (``dW/dF33``, the label) by the
    condensed tangent, ``r`` to zero; ``K``, ``X`` and ``Lout`` stay those of the previous state (the next
    increment's predictor uses them). The neglected terms are of the order of the predicted residual,
    i.e. within a tenth of the tolerance; this saves the assembly and the factorisation of the check
    (one in six of a curve's, docs/fem_nonlinear.md). Callers that difference Hessians
    (``linear_buckling``) or bisect instabilities leave it off.
    """
    n = K.shape[0]
    nf = free.shape[0]
    Kf = np.empty((nf, nf))
    gf = np.empty(nf)
    z = np.empty(nf)
    S, qbuf = np.empty((nf, nf)), np.empty(nf)  # Moré-Sorensen scratch
    dfull = np.zeros(n)
    ws, Rs, Fs = np.empty_like(w), np.empty_like(R), np.empty_like(F)
    # current evaluation (Kc, ...) and trial evaluation (Kt, ...): two buffer sets, swapped on acceptance
    Kc, rc, gFc, Xc, outc = K, r, gF, X, out
    Kt, rt, gFt, Xt, outt = np.empty_like(K), np.empty_like(r), np.empty_like(gF), np.empty_like(X), np.empty(3)
    evaluate(geo, n_sub, shallow, w, R, F, Kc, rc, gFc, Xc, outc)
    counts[0] += 1
    unstable = False
    gtol = tol * w_ref
    code, its, pd = NO_CONVERGENCE, max_iter, False
    swapped = False
    # after a rejected step the state and the model are unchanged: the factorisations are reused
    reuse, have_eig = False, False
    L = np.empty((nf, nf))  # the Cholesky factor of Kf (upper triangle, Kf = U^T U)
    chol, gnorm = False, 0.0
    lam, V = np.linalg.eigh(np.eye(1))
    gv = np.empty(0)
    gprev, newton_prev = np.inf, False  # residual of the previous iterate; was its step a full Newton step?
    for it in range(max_iter):
        if not reuse:
            gnorm = _free_system(Kc, rc, free, Ds, Kf, gf)
            if not np.isfinite(gnorm):
                code, its, pd = NON_FINITE, it + 1, False
                break
            chol = _cholesky_into(Kf, L)
            counts[1] += 1
            have_eig = False
        pd = chol and outc[1] == 0  # an indefinite interior block makes the full Hessian indefinite
        if gnorm <= gtol and (pd or not minimise):
            code, its = OK, it + 1
            if pd:
                Lout[:, :] = L
            break
        if not pd:
            unstable = True
        if chol:  # positive definite (condensed) model: Newton step, cut to the radius
            _cho_solve(L, gf, z)
            z *= -1.0
        elif not minimise:
            try:
                z[:] = -np.linalg.solve(Kf, gf)
            except Exception:  # noqa: BLE001 - singular matrix
                code, its, pd = SINGULAR, it + 1, False
                break
        else:
            nfac = -1 if have_eig else _more_sorensen(Kf, gf, radius, S, z, qbuf)
            if nfac > 0:
                counts[4] += nfac
            else:  # the hard case (or no convergence): the exact step from the eigen-decomposition
                if not have_eig:
                    lam, V = np.linalg.eigh(Kf)
                    gv = V.T @ gf
                    have_eig = True
                    counts[2] += 1
                z[:] = _tr_subproblem(lam, V, gv, radius, rand, rpos)
        zn = np.sqrt(z @ z)
        full_newton = chol and zn <= radius
        if zn > radius and chol:
            z *= radius / zn
            zn = radius
        for i in range(nf):
            dfull[free[i]] = z[i] * Ds[i]
        if (extrapolate and minimise and pd and full_newton and newton_prev and gnorm < gprev
                and gnorm * gnorm * gnorm <= 0.1 * gtol * gprev * gprev and _pivot_ratio(L, Kf) > PIVOT_MIN):
            # quadratic regime, next residual predicted far below the tolerance: take the step, no evaluation
            pred = _model_decrease(gf, z, Kf, 1.0, outc[2])
            dstress = 0.0
            for i in range(nf):
                dstress += Kc[i33, free[i]] * dfull[free[i]]
            apply_update(geo[0], n_sub, n_cell, w, R, F, dfull, Xc, 1.0, 1.0)
            outc[0] -= pred
            gFc[8] = rc[i33] + dstress
            rc[:] = 0.0
            Lout[:, :] = L
            code, its = OK, it + 1
            break
        newton_prev = False
        if not minimise:
            if zn > 0.2:
                dfull *= 0.2 / zn
            apply_update(geo[0], n_sub, n_cell, w, R, F, dfull, Xc, 1.0, 1.0)
            evaluate(geo, n_sub, shallow, w, R, F, Kc, rc, gFc, Xc, outc)
            counts[0] += 1
            continue
        # the interior residual correction is part of the step: shortened to the radius too
        alpha = min(1.0, radius / max(_interior_norm(Xc, n_sub, l_ref), 1e-300))
        pred = _model_decrease(gf, z, Kf, alpha, outc[2])
        ws[:] = w
        Rs[:] = R
        Fs[:] = F
        apply_update(geo[0], n_sub, n_cell, w, R, F, dfull, Xc, 1.0, alpha)
        Wt = evaluate(geo, n_sub, shallow, w, R, F, Kt, rt, gFt, Xt, outt)
        counts[0] += 1
        actual = outc[0] - Wt
        small = abs(pred) < 1e-13 * (abs(outc[0]) + 1e-3 * w_ref)
        if pred > 0:
            rho = actual / pred
        else:
            rho = 1.0 if small else -1.0
        if small or rho > 0.01:  # accept: the trial evaluation becomes the current one
            newton_prev = full_newton and alpha == 1.0
            gprev = gnorm
            Kc, Kt = Kt, Kc
            rc, rt = rt, rc
            gFc, gFt = gFt, gFc
            Xc, Xt = Xt, Xc
            outc, outt = outt, outc
            swapped = not swapped
            if rho > 0.75 and zn >= 0.99 * radius:
                radius = min(2.0 * radius, 1.0)
            reuse = False
        else:
            w[:] = ws
            R[:] = Rs
            F[:] = Fs
            reuse = True
        if rho < 0.25 and not small:
            radius = 0.25 * zn
            if radius < 1e-12:
                code, its, pd = COLLAPSED, it + 1, False
                break
    if code == NO_CONVERGENCE:
        pd = False
    if swapped:  # the caller's buffers receive the final evaluation
        K[:, :] = Kc
        r[:] = rc
        gF[:] = gFc
        X[:, :, :] = Xc
        out[:] = outc
    return code, its, unstable, pd


@nb.njit(cache=True)
def tangent(K, L, free, Ds, i33, V0, d):
    """Predictor ``d = dstate/dF33`` (full numbering, ``d[i33] = 1``) and ``dP33/dF33`` at a converged,
    positive definite state; ``L`` is the Cholesky factor ``U`` (upper, :func:`_cholesky_into`) of the scaled
    free Hessian ``Ds K_ff Ds`` left by :func:`newton`, so ``K_ff^-1 k = Ds (U^T U)^-1 (Ds k)``."""
    nf = free.shape[0]
    b = np.empty(nf)
    for i in range(nf):
        b[i] = K[free[i], i33] * Ds[i]
    v = np.empty(nf)
    _cho_solve(L, b, v)
    d[:] = 0.0
    s = K[i33, i33]
    for i in range(nf):
        d[free[i]] = -v[i] * Ds[i]
        s -= b[i] * v[i]
    d[i33] = 1.0
    return s / V0
