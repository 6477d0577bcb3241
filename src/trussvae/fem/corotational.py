"""Corotational 3D beam element (energy form, exact Hessian) for the nonlinear cell solver.

Kinematics (one element from end a to end b, circular section, linear-elastic material):

* state: chord vector ``d = x_b - x_a`` (current length ``l``, unit chord ``r = d / l``) and the
  nodal rotation matrices ``R_a``, ``R_b``; the current nodal triads are ``t_a^k = R_a e_k``,
  ``t_b^k = R_b e_k`` where ``(e_1, e_2, e_3)`` is the element's reference triad (``e_1`` along
  the reference chord, :func:`trussvae.fem.beam.local_axes`);
* local (corotated) deformations, all built from dot products of vectors that co-rotate under
  a rigid motion, so rigid rotations produce exactly zero strain:

  ====================  =====================================================
  axial                 ``u = l - l0``
  bending, end a        ``th_za = -r . t_a^2``,  ``th_ya = r . t_a^3``
  bending, end b        ``th_zb = -r . t_b^2``,  ``th_yb = r . t_b^3``
  twist                 ``tau = (t_a^3 . t_b^2 - t_a^2 . t_b^3) / 2``
  ====================  =====================================================

  (the nodal rotations relative to the chord, ``sin``-type measures as in the vectorial
  corotational elements of Crisfield / Nour-Omid & Rankin);
* local energy = the exact linear Timoshenko (or Euler-Bernoulli) element of
  :mod:`trussvae.fem.beam` written for these local deformations (local transverse end
  translations vanish in the corotated frame), with the *shallow-arch* axial strain
  ``e = u + l0 (2 th_a^2 - th_a th_b + 2 th_b^2) / 30`` (per bending plane) so that one
  element carries the bowing / second-order effect of its own bending (Crisfield vol. 1,
  sect. 7.?): ``W = EA e^2 / (2 l0) + 1/2 th^T K_b th + GJ tau^2 / (2 l0)``.

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

__all__ = ["rotation_matrix", "element_energy", "element_properties", "reference_triad"]


@nb.njit(cache=True)
def rotation_matrix(px, py, pz):
    """Rodrigues' formula: the rotation ``exp([phi]_x)`` of the rotation vector ``phi``."""
    th2 = px * px + py * py + pz * pz
    if th2 < 1e-12:
        a = 1.0 - th2 / 6.0
        b = 0.5 - th2 / 24.0
    else:
        th = np.sqrt(th2)
        a = np.sin(th) / th
        b = (1.0 - np.cos(th)) / th2
    R = np.empty((3, 3))
    R[0, 0] = 1.0 - b * (py * py + pz * pz)
    R[1, 1] = 1.0 - b * (px * px + pz * pz)
    R[2, 2] = 1.0 - b * (px * px + py * py)
    R[0, 1] = -a * pz + b * px * py
    R[1, 0] = a * pz + b * px * py
    R[0, 2] = a * py + b * px * pz
    R[2, 0] = -a * py + b * px * pz
    R[1, 2] = -a * px + b * py * pz
    R[2, 1] = a * px + b * py * pz
    return R


def reference_triad(vector) -> np.ndarray:
    """(3, 3) reference triad, columns ``e_1, e_2, e_3`` with ``e_1`` along ``vector``."""
    from trussvae.fem.beam import local_axes

    return np.ascontiguousarray(local_axes(vector).T)


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


@nb.njit(cache=True, inline="always")
def _cross(a, b, out):
    out[0] = a[1] * b[2] - a[2] * b[1]
    out[1] = a[2] * b[0] - a[0] * b[2]
    out[2] = a[0] * b[1] - a[1] * b[0]


@nb.njit(cache=True)
def _chord_measure(sign, r, l, v, off, G, H):
    """Add grad/Hessian of ``sign * (r . v)`` (v a triad vector of the node at offset ``off``)."""
    rv = _dot(r, v)
    c = np.empty(3)
    _cross(v, r, c)
    for p in range(3):
        G[p] = sign * (v[p] - rv * r[p]) / l
        G[off + p] = sign * c[p]
    il2 = sign / (l * l)
    for p in range(3):
        for q in range(3):
            dpq = 1.0 if p == q else 0.0
            H[p, q] = il2 * (-(v[p] * r[q] + r[p] * v[q]) - rv * (dpq - 3.0 * r[p] * r[q]))
            H[off + p, off + q] = sign * (0.5 * (r[p] * v[q] + v[p] * r[q]) - rv * dpq)
    # mixed d-phi block: -P [v]_x / l  with P = I - r r^T
    sk = np.zeros((3, 3))
    sk[0, 1], sk[0, 2], sk[1, 0] = -v[2], v[1], v[2]
    sk[1, 2], sk[2, 0], sk[2, 1] = -v[0], -v[1], v[0]
    for p in range(3):
        for q in range(3):
            s = 0.0
            for k in range(3):
                s += ((1.0 if p == k else 0.0) - r[p] * r[k]) * sk[k, q]
            H[p, off + q] = -sign * s / l
            H[off + q, p] = -sign * s / l


@nb.njit(cache=True)
def _pair_measure(sign, u, v, G, H):
    """Add grad/Hessian of ``sign * (u . v)``, u = triad vector of node a, v of node b."""
    uv = _dot(u, v)
    c = np.empty(3)
    _cross(u, v, c)
    for p in range(3):
        G[3 + p] += sign * c[p]
        G[6 + p] -= sign * c[p]
        for q in range(3):
            dpq = 1.0 if p == q else 0.0
            sym = sign * (0.5 * (u[p] * v[q] + v[p] * u[q]) - uv * dpq)
            H[3 + p, 3 + q] += sym
            H[6 + p, 6 + q] += sym
            # d/dphi_b of (u x v) = -[u]_x [v]_x = -(v u^T - (u.v) I)
            mix = -sign * (v[p] * u[q] - uv * dpq)
            H[3 + p, 6 + q] += mix
            H[6 + q, 3 + p] += mix


@nb.njit(cache=True)
def element_energy(d, ta, tb, l0, EA, kaa, kab, GJ, shallow, g, H):
    """Energy of one element; writes its gradient ``g`` (9,) and Hessian ``H`` (9, 9).

    Variables ``(d, phi_a, phi_b)``: chord vector and incremental rotation vectors of the two
    ends. ``ta``, ``tb`` are (3, 3) current nodal triads (columns t^1, t^2, t^3). ``kaa``,
    ``kab`` are the bending coefficients ``(4+Phi) EI / ((1+Phi) l0)``, ``(2-Phi) EI / ((1+Phi) l0)``,
    ``GJ`` is ``G J / l0``; ``shallow`` = 1 adds the shallow-arch bowing term.
    """
    l = np.sqrt(_dot(d, d))
    r = d / l
    nm = 6
    Gm = np.zeros((nm, 9))
    Hm = np.zeros((nm, 9, 9))
    m = np.zeros(nm)
    # 0: chord length
    m[0] = l
    for p in range(3):
        Gm[0, p] = r[p]
        for q in range(3):
            Hm[0, p, q] = ((1.0 if p == q else 0.0) - r[p] * r[q]) / l
    # 1..4: bending measures th_za, th_ya, th_zb, th_yb
    m[1] = -_dot(r, ta[:, 1])
    _chord_measure(-1.0, r, l, np.ascontiguousarray(ta[:, 1]), 3, Gm[1], Hm[1])
    m[2] = _dot(r, ta[:, 2])
    _chord_measure(1.0, r, l, np.ascontiguousarray(ta[:, 2]), 3, Gm[2], Hm[2])
    m[3] = -_dot(r, tb[:, 1])
    _chord_measure(-1.0, r, l, np.ascontiguousarray(tb[:, 1]), 6, Gm[3], Hm[3])
    m[4] = _dot(r, tb[:, 2])
    _chord_measure(1.0, r, l, np.ascontiguousarray(tb[:, 2]), 6, Gm[4], Hm[4])
    # 5: twist
    a3, a2 = np.ascontiguousarray(ta[:, 2]), np.ascontiguousarray(ta[:, 1])
    b2, b3 = np.ascontiguousarray(tb[:, 1]), np.ascontiguousarray(tb[:, 2])
    m[5] = 0.5 * (_dot(a3, b2) - _dot(a2, b3))
    _pair_measure(0.5, a3, b2, Gm[5], Hm[5])
    _pair_measure(-0.5, a2, b3, Gm[5], Hm[5])
    # local energy W(m) and its derivatives
    za, ya, zb, yb, tau = m[1], m[2], m[3], m[4], m[5]
    e = l - l0
    b = np.zeros(nm)
    b[0] = 1.0
    bb = np.zeros((nm, nm))
    if shallow:
        c = l0 / 30.0
        e += c * (2 * za * za - za * zb + 2 * zb * zb + 2 * ya * ya - ya * yb + 2 * yb * yb)
        b[1], b[3] = c * (4 * za - zb), c * (4 * zb - za)
        b[2], b[4] = c * (4 * ya - yb), c * (4 * yb - ya)
        for i, j in ((1, 3), (2, 4)):
            bb[i, i] = 4 * c
            bb[j, j] = 4 * c
            bb[i, j] = -c
            bb[j, i] = -c
    ea = EA / l0
    N = ea * e
    W = 0.5 * N * e + 0.5 * kaa * (za * za + zb * zb + ya * ya + yb * yb) + kab * (za * zb + ya * yb)
    W += 0.5 * GJ * tau * tau
    dW = N * b
    dW[1] += kaa * za + kab * zb
    dW[3] += kaa * zb + kab * za
    dW[2] += kaa * ya + kab * yb
    dW[4] += kaa * yb + kab * ya
    dW[5] += GJ * tau
    d2W = np.zeros((nm, nm))
    for i in range(nm):
        for j in range(nm):
            d2W[i, j] = ea * b[i] * b[j] + N * bb[i, j]
    for i, j in ((1, 3), (2, 4)):
        d2W[i, i] += kaa
        d2W[j, j] += kaa
        d2W[i, j] += kab
        d2W[j, i] += kab
    d2W[5, 5] += GJ
    # chain rule
    for p in range(9):
        s = 0.0
        for i in range(nm):
            s += dW[i] * Gm[i, p]
        g[p] = s
    tmp = np.zeros((nm, 9))
    for i in range(nm):
        for q in range(9):
            s = 0.0
            for j in range(nm):
                s += d2W[i, j] * Gm[j, q]
            tmp[i, q] = s
    for p in range(9):
        for q in range(9):
            s = 0.0
            for i in range(nm):
                s += Gm[i, p] * tmp[i, q] + dW[i] * Hm[i, p, q]
            H[p, q] = s
    return W
