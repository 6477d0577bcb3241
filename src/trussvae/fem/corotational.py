"""Corotational 3D beam element (energy form, exact Hessian) for the nonlinear cell solver.

Kinematics (one element from end a to end b, circular section, linear-elastic material):

* state: chord vector ``d = x_b - x_a`` (current length ``l``, unit chord ``r = d / l``) and the
  nodal rotation matrices ``R_a``, ``R_b``; the current nodal triads are ``t_a^k = R_a e_k``,
  ``t_b^k = R_b e_k`` where ``(e_1, e_2, e_3)`` is the element's reference triad (``e_1`` along
  the reference chord, :func:`trussvae.fem.beam.local_axes`);
* local (corotated) deformations, all functions of dot products of vectors that co-rotate
  under a rigid motion, so rigid rotations produce exactly zero strain:

  ====================  ==========================================================================
  axial                 ``u = l - l0``
  bending, end a        ``(th_ya, th_za) = f (r.t_a^3, -r.t_a^2)``,
                        ``f = atan2(s, r.t_a^1) / s``, ``s = sqrt((r.t_a^2)^2 + (r.t_a^3)^2)``
  bending, end b        same with ``t_b``
  twist                 ``tau = atan2(S, C)``, ``S = (t_a^3.t_b^2 - t_a^2.t_b^3) / 2``,
                        ``C = (t_a^2.t_b^2 + t_a^3.t_b^3) / 2``
  ====================  ==========================================================================

  The bending measure ``f r x t^1`` is the rotation vector (log map) of the smallest rotation
  taking the chord ``r`` onto the nodal axis ``t^1``, i.e. the Battini-Pacoste local rotation
  for a node without twist: its angle is exact up to 180 deg (``f`` is evaluated by its series
  in ``s^2 / (r.t^1)^2`` near the chord). The previous ``sin``-type measures (``-r.t^2``,
  ``r.t^3``, Crisfield / Nour-Omid & Rankin) saturate at 90 deg: the energy ``~ sin^2(theta)``
  softens spuriously beyond 45 deg and has a false zero at 180 deg (half-strut elements of
  buckled struts flipped over there and the trust region collapsed, docs/fem_nonlinear.md);
* local energy = the exact linear Timoshenko (or Euler-Bernoulli) element of
  :mod:`trussvae.fem.beam` written for these local deformations (local transverse end
  translations vanish in the corotated frame), with the *shallow-arch* axial strain
  ``e = u + l0 (2 th_a^2 - th_a th_b + 2 th_b^2) / 30`` (per bending plane) so that one
  element carries the bowing / second-order effect of its own bending (shallow-arch
  strain, Crisfield vol. 1): ``W = EA e^2 / (2 l0) + 1/2 th^T K_b th + GJ tau^2 / (2 l0)``.

Rotations are updated multiplicatively, ``R <- exp(phi) R`` (Rodrigues). The gradient and the
Hessian returned by :func:`element_energy` are those of ``W(d, exp(phi_a) R_a, exp(phi_b) R_b)``
with respect to ``(d, phi_a, phi_b)`` at ``phi = 0``: the gradient is the spin-conjugate
internal force (forces and moments), the Hessian is the consistent, *symmetric* tangent
including all geometric terms (it is the Hessian of the pulled-back energy, so Newton's method
with the exponential update converges quadratically, and minima of the energy are exactly the
stable equilibria).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["rotation_matrix", "rotation_matrix_into", "element_energy", "element_kernel", "element_properties",
           "reference_triad", "reference_triads", "local_deformations"]


@nb.njit(cache=True)
def rotation_matrix(px, py, pz):
    """Rodrigues' formula: the rotation ``exp([phi]_x)`` of the rotation vector ``phi``."""
    R = np.empty((3, 3))
    rotation_matrix_into(px, py, pz, R)
    return R


@nb.njit(cache=True)
def rotation_matrix_into(px, py, pz, R):
    """:func:`rotation_matrix` written into the (3, 3) array ``R``."""
    th2 = px * px + py * py + pz * pz
    if th2 < 1e-12:
        a = 1.0 - th2 / 6.0
        b = 0.5 - th2 / 24.0
    else:
        th = np.sqrt(th2)
        a = np.sin(th) / th
        b = (1.0 - np.cos(th)) / th2
    R[0, 0] = 1.0 - b * (py * py + pz * pz)
    R[1, 1] = 1.0 - b * (px * px + pz * pz)
    R[2, 2] = 1.0 - b * (px * px + py * py)
    R[0, 1] = -a * pz + b * px * py
    R[1, 0] = a * pz + b * px * py
    R[0, 2] = a * py + b * px * pz
    R[2, 0] = -a * py + b * px * pz
    R[1, 2] = -a * px + b * py * pz
    R[2, 1] = a * px + b * py * pz


def reference_triad(vector) -> np.ndarray:
    """(3, 3) reference triad, columns ``e_1, e_2, e_3`` with ``e_1`` along ``vector``."""
    from trussvae.fem.beam import local_axes

    return np.ascontiguousarray(local_axes(vector).T)


def reference_triads(vectors) -> np.ndarray:
    """(n, 3, 3) reference triads of many elements (vectorised :func:`reference_triad`)."""
    t = np.asarray(vectors, dtype=np.float64)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    helper = np.eye(3)[np.argmin(np.abs(t), axis=1)]
    e2 = np.cross(t, helper)
    e2 /= np.linalg.norm(e2, axis=1, keepdims=True)
    return np.ascontiguousarray(np.stack([t, e2, np.cross(t, e2)], axis=2))


def element_properties(length: float, radius: float, E_s: float, nu_s: float, timoshenko: int):
    """``(EA, k_aa, k_ab, GJ/l0)`` of the local element (see :mod:`trussvae.fem.beam`)."""
    G = E_s / (2.0 * (1.0 + nu_s))
    A = np.pi * radius**2
    inertia = 0.25 * np.pi * radius**4
    phi = 0.0
    if timoshenko:
        kappa = 6.0 * (1.0 + nu_s) / (7.0 + 6.0 * nu_s)
        phi = 12.0 * E_s * inertia / (kappa * G * A * length**2)
    ei = E_s * inertia / (1.0 + phi)
    return E_s * A, (4.0 + phi) * ei / length, (2.0 - phi) * ei / length, G * 2.0 * inertia / length


@nb.njit(cache=True, inline="always")
def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@nb.njit(cache=True)
def _chord_grad(r, l, v, off, G):
    """Gradient of ``r . v`` (``v`` a triad vector of the node whose rotation DOFs start at ``off``)."""
    rv = _dot(r, v)
    for p in range(3):
        G[p] = (v[p] - rv * r[p]) / l
    G[off] = v[1] * r[2] - v[2] * r[1]
    G[off + 1] = v[2] * r[0] - v[0] * r[2]
    G[off + 2] = v[0] * r[1] - v[1] * r[0]


@nb.njit(cache=True)
def _chord_hess_add(w, r, l, v, off, H):
    """``H += w * Hessian(r . v)`` in ``(d, phi_a, phi_b)``."""
    rv = _dot(r, v)
    il2 = w / (l * l)
    # r x v (for the mixed block  -P [v]_x / l,  P [v]_x = [v]_x - r (r x v)^T)
    cx = r[1] * v[2] - r[2] * v[1]
    cy = r[2] * v[0] - r[0] * v[2]
    cz = r[0] * v[1] - r[1] * v[0]
    rxv = (cx, cy, cz)
    wl = -w / l
    for p in range(3):
        for q in range(3):
            dpq = 1.0 if p == q else 0.0
            H[p, q] += il2 * (-(v[p] * r[q] + r[p] * v[q]) - rv * (dpq - 3.0 * r[p] * r[q]))
            H[off + p, off + q] += w * (0.5 * (r[p] * v[q] + v[p] * r[q]) - rv * dpq)
    for p in range(3):
        # [v]_x entries (row p): sk[p, q]
        for q in range(3):
            if p == q:
                sk = 0.0
            elif p == 0:
                sk = -v[2] if q == 1 else v[1]
            elif p == 1:
                sk = v[2] if q == 0 else -v[0]
            else:
                sk = -v[1] if q == 0 else v[0]
            val = wl * (sk - r[p] * rxv[q])
            H[p, off + q] += val
            H[off + q, p] += val


@nb.njit(cache=True)
def _pair_grad_add(sign, u, v, G):
    """``G += sign * gradient(u . v)``, u a triad vector of node a, v of node b."""
    cx = u[1] * v[2] - u[2] * v[1]
    cy = u[2] * v[0] - u[0] * v[2]
    cz = u[0] * v[1] - u[1] * v[0]
    G[3] += sign * cx
    G[4] += sign * cy
    G[5] += sign * cz
    G[6] -= sign * cx
    G[7] -= sign * cy
    G[8] -= sign * cz


@nb.njit(cache=True)
def _pair_hess_add(w, u, v, H):
    """``H += w * Hessian(u . v)`` (u of node a, v of node b)."""
    uv = _dot(u, v)
    for p in range(3):
        for q in range(3):
            dpq = 1.0 if p == q else 0.0
            sym = w * (0.5 * (u[p] * v[q] + v[p] * u[q]) - uv * dpq)
            H[3 + p, 3 + q] += sym
            H[6 + p, 6 + q] += sym
            # d/dphi_b of (u x v) = -[u]_x [v]_x = -(v u^T - (u.v) I)
            mix = -w * (v[p] * u[q] - uv * dpq)
            H[3 + p, 6 + q] += mix
            H[6 + q, 3 + p] += mix


@nb.njit(cache=True)
def _bend_coeffs(c, y2, y3, fx, fxx):
    """``f(c, q) = atan2(sqrt q, c) / sqrt q`` with ``q = y2^2 + y3^2``; gradient ``fx`` (3,) and
    Hessian ``fxx`` (3, 3) in ``(c, y2, y3)``. Returns ``f``.

    ``f r x t^1 = f (y3 t^2 - y2 t^3)`` is the rotation vector of the smallest rotation taking ``r``
    onto ``t^1`` (``c = r.t^1``, ``y_k = r.t^k``): its angle is exact up to 180 deg.
    Series in ``t = q / c^2`` near the reference state (``q = 0``), closed form elsewhere.
    """
    q = y2 * y2 + y3 * y3
    rho2 = q + c * c
    fc = -1.0 / rho2
    fcc = 2.0 * c / (rho2 * rho2)
    fcq = 1.0 / (rho2 * rho2)
    if c > 0.0 and q < 0.04 * c * c:
        t = q / (c * c)
        # h(t) = atan(sqrt t) / sqrt t = sum_k (-1)^k t^k / (2k + 1) and its derivatives (Horner)
        h, h1, h2 = 0.0, 0.0, 0.0
        for k in range(17, -1, -1):
            a = (1.0 if k % 2 == 0 else -1.0) / (2 * k + 1)
            h = h * t + a
            if k >= 1:
                h1 = h1 * t + k * a
            if k >= 2:
                h2 = h2 * t + k * (k - 1) * a
        f = h / c
        fq = h1 / (c * c * c)
        fqq = h2 / (c * c * c * c * c)
    else:
        s = np.sqrt(q)
        f = np.arctan2(s, c) / s
        fq = (c / rho2 - f) / (2.0 * q)
        fqq = (-c / (rho2 * rho2) - fq) / (2.0 * q) - fq / q
    fx[0] = fc
    fx[1] = 2.0 * fq * y2
    fx[2] = 2.0 * fq * y3
    fxx[0, 0] = fcc
    fxx[0, 1] = fxx[1, 0] = 2.0 * fcq * y2
    fxx[0, 2] = fxx[2, 0] = 2.0 * fcq * y3
    fxx[1, 1] = 4.0 * fqq * y2 * y2 + 2.0 * fq
    fxx[2, 2] = 4.0 * fqq * y3 * y3 + 2.0 * fq
    fxx[1, 2] = fxx[2, 1] = 4.0 * fqq * y2 * y3
    return f


@nb.njit(cache=True)
def _congruence(J, A, out, work):
    """``out = J^T A J`` for small matrices, A symmetric (zero entries of J skipped); J (m, n), A (m, m), out (n, n);
    ``work`` (>= m, >= n) scratch."""
    m, n = J.shape
    tmp = work[:m, :n]  # tmp = A J, over the nonzeros of J (J is sparse, A nearly dense)
    tmp[:, :] = 0.0
    for j in range(m):
        for q in range(n):
            jq = J[j, q]
            if jq != 0.0:
                for i in range(m):
                    tmp[i, q] += A[i, j] * jq
    out[:, :] = 0.0  # out = J^T tmp, upper triangle, mirrored (A symmetric)
    for i in range(m):
        for p in range(n):
            jip = J[i, p]
            if jip != 0.0:
                for q in range(p, n):
                    out[p, q] += jip * tmp[i, q]
    for p in range(n):
        for q in range(p + 1, n):
            out[q, p] = out[p, q]


# The element's two congruences with the trip counts as literals (6 x 9 and 9 x 9): LLVM then unrolls and
# schedules the loops, ~2-3x faster than :func:`_congruence` with run-time shapes; the same sums in the same
# order (bit-identical results).


@nb.njit(cache=True)
def _congruence_6x9(J, A, out, tmp):
    """:func:`_congruence` for J (6, 9), A (6, 6), out (9, 9); ``tmp`` (>= 6, >= 9) scratch."""
    for i in range(6):
        for q in range(9):
            tmp[i, q] = 0.0
    for j in range(6):
        for q in range(9):
            jq = J[j, q]
            if jq != 0.0:
                for i in range(6):
                    tmp[i, q] += A[i, j] * jq
    for p in range(9):
        for q in range(p, 9):
            out[p, q] = 0.0
    for i in range(6):
        for p in range(9):
            jip = J[i, p]
            if jip != 0.0:
                for q in range(p, 9):
                    out[p, q] += jip * tmp[i, q]
    for p in range(9):
        for q in range(p + 1, 9):
            out[q, p] = out[p, q]


@nb.njit(cache=True)
def _congruence_9x9(J, A, out, tmp):
    """:func:`_congruence` for J (9, 9), A (9, 9), out (9, 9); ``tmp`` (>= 9, >= 9) scratch."""
    for i in range(9):
        for q in range(9):
            tmp[i, q] = 0.0
    for j in range(9):
        for q in range(9):
            jq = J[j, q]
            if jq != 0.0:
                for i in range(9):
                    tmp[i, q] += A[i, j] * jq
    for p in range(9):
        for q in range(p, 9):
            out[p, q] = 0.0
    for i in range(9):
        for p in range(9):
            jip = J[i, p]
            if jip != 0.0:
                for q in range(p, 9):
                    out[p, q] += jip * tmp[i, q]
    for p in range(9):
        for q in range(p + 1, 9):
            out[q, p] = out[p, q]


@nb.njit(cache=True)
def _element(d, ta, tb, l0, EA, kaa, kab, GJ, shallow, g, H, V, Gb, Jm, Hbb, d2W, fx, fxx, wk, wm):
    """Kernel of :func:`element_energy` with caller-provided work arrays (no allocation per call).

    Basic dot products ``mb``: ``0 l``, ``1-3 r.t_a^k``, ``4-6 r.t_b^k``,
    ``7 S = (t_a^3.t_b^2 - t_a^2.t_b^3)/2``, ``8 C = (t_a^2.t_b^2 + t_a^3.t_b^3)/2``; local
    deformations ``m``: ``0 l``, ``1 th_za``, ``2 th_ya``, ``3 th_zb``, ``4 th_yb``,
    ``5 tau = atan2(S, C)``. Work arrays: V (6, 3), Gb (9, 9), Jm (6, 9), Hbb (9, 9), d2W (6, 6),
    fx (2, 3), fxx (2, 3, 3), wk (>= 51,), wm (9, 9).
    """
    for k in range(3):
        for p in range(3):
            V[k, p] = ta[p, k]
            V[3 + k, p] = tb[p, k]
    l = np.sqrt(_dot(d, d))
    r = wk[0:3]
    for p in range(3):
        r[p] = d[p] / l
    mb = wk[3:12]
    Gb[:, :] = 0.0
    mb[0] = l
    for p in range(3):
        Gb[0, p] = r[p]
    for k in range(3):
        mb[1 + k] = _dot(r, V[k])
        _chord_grad(r, l, V[k], 3, Gb[1 + k])
        mb[4 + k] = _dot(r, V[3 + k])
        _chord_grad(r, l, V[3 + k], 6, Gb[4 + k])
    a2, a3, b2, b3 = V[1], V[2], V[4], V[5]
    mb[7] = 0.5 * (_dot(a3, b2) - _dot(a2, b3))
    _pair_grad_add(0.5, a3, b2, Gb[7])
    _pair_grad_add(-0.5, a2, b3, Gb[7])
    mb[8] = 0.5 * (_dot(a2, b2) + _dot(a3, b3))
    _pair_grad_add(0.5, a2, b2, Gb[8])
    _pair_grad_add(0.5, a3, b3, Gb[8])
    # local deformations and their Jacobian w.r.t. the basic measures
    m = wk[12:18]
    Jm[:, :] = 0.0
    m[0] = l
    Jm[0, 0] = 1.0
    for node in range(2):
        o = 1 + 3 * node
        f = _bend_coeffs(mb[o], mb[o + 1], mb[o + 2], fx[node], fxx[node])
        for comp in range(2):
            i = 1 + 2 * node + comp  # th_z = -f y2, th_y = +f y3
            k = 1 + comp
            sg = -1.0 if comp == 0 else 1.0
            yk = mb[o + k]
            m[i] = sg * f * yk
            for p in range(3):
                Jm[i, o + p] = sg * fx[node, p] * yk
            Jm[i, o + k] += sg * f
    S, C = mb[7], mb[8]
    rho2 = S * S + C * C
    m[5] = np.arctan2(S, C)
    Jm[5, 7] = C / rho2
    Jm[5, 8] = -S / rho2
    # local energy W(m)
    za, ya, zb, yb, tau = m[1], m[2], m[3], m[4], m[5]
    e = l - l0
    b = wk[18:24]
    b[:] = 0.0
    b[0] = 1.0
    c = l0 / 30.0
    if shallow:
        e += c * (2 * za * za - za * zb + 2 * zb * zb + 2 * ya * ya - ya * yb + 2 * yb * yb)
        b[1], b[3] = c * (4 * za - zb), c * (4 * zb - za)
        b[2], b[4] = c * (4 * ya - yb), c * (4 * yb - ya)
    ea = EA / l0
    N = ea * e
    W = 0.5 * N * e + 0.5 * kaa * (za * za + zb * zb + ya * ya + yb * yb) + kab * (za * zb + ya * yb)
    W += 0.5 * GJ * tau * tau
    dW = wk[24:30]
    for i in range(6):
        dW[i] = N * b[i]
    dW[1] += kaa * za + kab * zb
    dW[3] += kaa * zb + kab * za
    dW[2] += kaa * ya + kab * yb
    dW[4] += kaa * yb + kab * ya
    dW[5] += GJ * tau
    for i in range(6):
        for j in range(6):
            d2W[i, j] = ea * b[i] * b[j]
    for i, j in ((1, 3), (2, 4)):
        d2W[i, i] += kaa
        d2W[j, j] += kaa
        d2W[i, j] += kab
        d2W[j, i] += kab
        if shallow:
            d2W[i, i] += 4.0 * c * N
            d2W[j, j] += 4.0 * c * N
            d2W[i, j] -= c * N
            d2W[j, i] -= c * N
    d2W[5, 5] += GJ
    # basic-measure gradient wb = Jm^T dW and Hessian Hbb = Jm^T d2W Jm + sum_i dW_i d2m_i
    wb = wk[30:39]
    wb[:] = 0.0
    for i in range(6):
        for p in range(9):
            wb[p] += dW[i] * Jm[i, p]
    _congruence_6x9(Jm, d2W, Hbb, wm)
    for node in range(2):
        o = 1 + 3 * node
        az = -dW[1 + 2 * node]  # weight of  f * y2  (th_z = -f y2)
        ay = dW[2 + 2 * node]  # weight of  f * y3
        sy = az * mb[o + 1] + ay * mb[o + 2]
        for p in range(3):
            for q in range(3):
                Hbb[o + p, o + q] += fxx[node, p, q] * sy
            Hbb[o + p, o + 1] += az * fx[node, p]
            Hbb[o + 1, o + p] += az * fx[node, p]
            Hbb[o + p, o + 2] += ay * fx[node, p]
            Hbb[o + 2, o + p] += ay * fx[node, p]
    r4 = rho2 * rho2
    Hbb[7, 7] += dW[5] * (-2.0 * S * C / r4)
    Hbb[8, 8] += dW[5] * (2.0 * S * C / r4)
    Hbb[7, 8] += dW[5] * (S * S - C * C) / r4
    Hbb[8, 7] += dW[5] * (S * S - C * C) / r4
    # basic -> (d, phi_a, phi_b)
    for p in range(9):
        sacc = 0.0
        for i in range(9):
            sacc += wb[i] * Gb[i, p]
        g[p] = sacc
    _congruence_9x9(Gb, Hbb, H, wm)
    # second derivatives of the basic measures, weighted
    w0 = wb[0] / l
    for p in range(3):
        for q in range(3):
            H[p, q] += w0 * ((1.0 if p == q else 0.0) - r[p] * r[q])
    # the Hessian of r.v is linear in v, that of u.v bilinear: the weighted sums collapse to one term per
    # node (r.u_a, u_a = sum_k wb_k t_a^k) and one per triad vector of node a (twist)
    ua, ub, v3, v2 = wk[39:42], wk[42:45], wk[45:48], wk[48:51]
    h7, h8 = 0.5 * wb[7], 0.5 * wb[8]
    for p in range(3):
        ua[p] = wb[1] * V[0, p] + wb[2] * V[1, p] + wb[3] * V[2, p]
        ub[p] = wb[4] * V[3, p] + wb[5] * V[4, p] + wb[6] * V[5, p]
        v3[p] = h7 * b2[p] + h8 * b3[p]  # partner of a3: S = (a3.b2 - a2.b3)/2, C = (a2.b2 + a3.b3)/2
        v2[p] = h8 * b2[p] - h7 * b3[p]  # partner of a2
    _chord_hess_add(1.0, r, l, ua, 3, H)
    _chord_hess_add(1.0, r, l, ub, 6, H)
    _pair_hess_add(1.0, a3, v3, H)
    _pair_hess_add(1.0, a2, v2, H)
    return W


@nb.njit(cache=True)
def element_energy(d, ta, tb, l0, EA, kaa, kab, GJ, shallow, g, H):
    """Energy of one element; writes its gradient ``g`` (9,) and Hessian ``H`` (9, 9).

    Variables ``(d, phi_a, phi_b)``: chord vector and incremental rotation vectors of the two
    ends. ``ta``, ``tb`` are (3, 3) current nodal triads (columns t^1, t^2, t^3). ``kaa``,
    ``kab`` are the bending coefficients ``(4+Phi) EI / ((1+Phi) l0)``, ``(2-Phi) EI / ((1+Phi) l0)``,
    ``GJ`` is ``G J / l0``; ``shallow`` = 1 adds the shallow-arch bowing term.
    """
    return _element(d, ta, tb, l0, EA, kaa, kab, GJ, shallow, g, H, np.empty((6, 3)), np.empty((9, 9)),
                    np.empty((6, 9)), np.empty((9, 9)), np.empty((6, 6)), np.empty((2, 3)), np.empty((2, 3, 3)),
                    np.empty(56), np.empty((9, 9)))


@nb.njit(cache=True)
def local_deformations(d, ta, tb):
    """``(l, th_za, th_ya, th_zb, th_yb, tau)`` of one element: chord length, end rotations relative
    to the chord (rotation vector of the smallest rotation taking the chord onto ``t^1``, components
    along ``t^3`` and ``t^2``) and the relative twist ``atan2(S, C)``."""
    out = np.empty(6)
    out[0] = np.sqrt(_dot(d, d))
    fx = np.empty(3)
    fxx = np.empty((3, 3))
    r = d / out[0]
    for node in range(2):
        t = ta if node == 0 else tb
        c, y2, y3 = _dot(r, t[:, 0]), _dot(r, t[:, 1]), _dot(r, t[:, 2])
        f = _bend_coeffs(c, y2, y3, fx, fxx)
        out[1 + 2 * node] = -f * y2
        out[2 + 2 * node] = f * y3
    S = 0.5 * (_dot(ta[:, 2], tb[:, 1]) - _dot(ta[:, 1], tb[:, 2]))
    C = 0.5 * (_dot(ta[:, 1], tb[:, 1]) + _dot(ta[:, 2], tb[:, 2]))
    out[5] = np.arctan2(S, C)
    return out


#: the full element kernel (energy, gradient and Hessian into caller-provided work arrays), for
#: the cell assembly of :mod:`trussvae.fem.nonlinear_cell`; :func:`element_energy` wraps it
element_kernel = _element
