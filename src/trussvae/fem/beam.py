"""Exact linear-elastic 3D frame element (Timoshenko or Euler-Bernoulli) with a circular section.

One element per strut, 12 degrees of freedom ``[u_a, theta_a, u_b, theta_b]`` (translations and
rotations of the two ends, Cartesian components). The element is *exact* for a prismatic beam
loaded at its ends (cubic deflection + linear rotation for Timoshenko, i.e. the classical
Przemieniecki matrix), so a strut never needs to be subdivided.

Section of a circular strut of radius ``r`` (base material ``E``, ``nu``, ``G = E / (2 (1 + nu))``):

``A = pi r^2``, ``I = pi r^4 / 4`` (both bending axes), ``J = 2 I = pi r^4 / 2`` (torsion),
shear correction factor of Cowper (1966) for a solid circle ``kappa = 6 (1 + nu) / (7 + 6 nu)``
(0.886 at nu = 0.3), shear parameter ``Phi = 12 E I / (kappa G A L^2) = 3 E r^2 / (kappa G L^2)``
(``Phi = 0`` is the Euler-Bernoulli beam).

Because the section is axisymmetric the global element matrix depends only on the unit axis
``t`` and is written without local axes: with ``P = I - t t^T`` and ``S = [t]_x``
(``S v = t x v``),

====================  ===================================================================
``K_{u_a u_a}``       ``EA/L t t^T + 12 EI / ((1+Phi) L^3) P``   (``K_{u_a u_b} = -K_{u_a u_a}``)
``K_{u_a th_a}``      ``-6 EI / ((1+Phi) L^2) S``  (same for ``th_b``; sign flips for ``u_b``)
``K_{th_a th_a}``     ``GJ/L t t^T + (4+Phi) EI / ((1+Phi) L) P``
``K_{th_a th_b}``     ``-GJ/L t t^T + (2-Phi) EI / ((1+Phi) L) P``
====================  ===================================================================

which equals ``T^T k_local T`` for any orthonormal local frame (checked in the tests against
:func:`local_element_stiffness`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trussvae.fem.elasticity import DEFAULT_BEAM, DEFAULT_E_S, DEFAULT_NU_S

__all__ = [
    "BEAM_MODELS",
    "beam_flag",
    "cowper_shear_factor",
    "element_stiffness",
    "local_element_stiffness",
    "local_axes",
]

#: accepted values of the ``beam`` argument
BEAM_MODELS = ("timoshenko", "euler_bernoulli")


def beam_flag(beam: str) -> int:
    """1 for ``"timoshenko"``, 0 for ``"euler_bernoulli"``; ``ValueError`` otherwise."""
    key = str(beam).lower().replace("-", "_")
    if key not in BEAM_MODELS:
        raise ValueError(f"beam must be one of {BEAM_MODELS}, got {beam!r}")
    return 1 if key == "timoshenko" else 0


@nb.njit(cache=True)
def cowper_shear_factor(nu):
    """Cowper's shear correction factor of a solid circular section, ``6 (1+nu) / (7+6 nu)``."""
    return 6.0 * (1.0 + nu) / (7.0 + 6.0 * nu)


@nb.njit(cache=True)
def fill_element_stiffness(dx, dy, dz, radius, E, nu, timoshenko, out):
    """Write the (12, 12) global stiffness of one strut into ``out``.

    Parameters
    ----------
    dx, dy, dz : float, Cartesian vector from end a to end b (length L > 0).
    radius : float, strut radius.  E, nu : float, base material.
    timoshenko : int, 1 = Timoshenko (Cowper kappa), 0 = Euler-Bernoulli.
    out : (12, 12) float64 array, overwritten. DOF order ``[u_a, theta_a, u_b, theta_b]``.
    """
    L = np.sqrt(dx * dx + dy * dy + dz * dz)
    t = (dx / L, dy / L, dz / L)
    G = E / (2.0 * (1.0 + nu))
    A = np.pi * radius * radius
    inertia = 0.25 * np.pi * radius**4
    phi = 0.0
    if timoshenko:
        phi = 12.0 * E * inertia / (cowper_shear_factor(nu) * G * A * L * L)
    ei = E * inertia / (1.0 + phi)
    ax = E * A / L
    bend_u = 12.0 * ei / L**3
    cpl = 6.0 * ei / L**2
    gj = G * 2.0 * inertia / L
    r_aa = (4.0 + phi) * ei / L
    r_ab = (2.0 - phi) * ei / L
    for p in range(3):
        for q in range(3):
            tt = t[p] * t[q]
            proj = (1.0 if p == q else 0.0) - tt
            kuu = ax * tt + bend_u * proj
            out[p, q] = kuu
            out[p + 6, q + 6] = kuu
            out[p, q + 6] = -kuu
            out[p + 6, q] = -kuu
            taa = gj * tt + r_aa * proj
            tab = -gj * tt + r_ab * proj
            out[p + 3, q + 3] = taa
            out[p + 9, q + 9] = taa
            out[p + 3, q + 9] = tab
            out[p + 9, q + 3] = tab
    # skew(t): S[p, q] with S v = t x v
    for p in range(3):
        for q in range(3):
            s = 0.0
            if p == 0 and q == 1:
                s = -t[2]
            elif p == 0 and q == 2:
                s = t[1]
            elif p == 1 and q == 0:
                s = t[2]
            elif p == 1 and q == 2:
                s = -t[0]
            elif p == 2 and q == 0:
                s = -t[1]
            elif p == 2 and q == 1:
                s = t[0]
            c = cpl * s
            # u-theta blocks: K_{u_a th} = -c S, K_{u_b th} = +c S; theta-u blocks are transposes
            out[p, q + 3] = -c
            out[p, q + 9] = -c
            out[p + 6, q + 3] = c
            out[p + 6, q + 9] = c
            out[q + 3, p] = -c
            out[q + 9, p] = -c
            out[q + 3, p + 6] = c
            out[q + 9, p + 6] = c


def element_stiffness(vector, radius: float, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S,
                      beam: str = DEFAULT_BEAM) -> np.ndarray:
    """(12, 12) global stiffness of a strut from end a to end a + ``vector``.

    Parameters
    ----------
    vector : (3,) Cartesian strut vector (b - a).  radius : strut radius (same length unit).
    E_s, nu_s : base material.  beam : ``"timoshenko"`` or ``"euler_bernoulli"``.
    """
    v = np.asarray(vector, dtype=np.float64)
    out = np.zeros((12, 12))
    fill_element_stiffness(float(v[0]), float(v[1]), float(v[2]), float(radius), float(E_s),
                           float(nu_s), beam_flag(beam), out)
    return out


def local_element_stiffness(length: float, radius: float, E_s: float = DEFAULT_E_S, nu_s: float = DEFAULT_NU_S,
                            beam: str = DEFAULT_BEAM) -> np.ndarray:
    """Classical (12, 12) local matrix (Przemieniecki), local x along the strut.

    DOF order ``[u, v, w, th_x, th_y, th_z]`` at end a then end b. Reference implementation
    used to check :func:`fill_element_stiffness`.
    """
    L, r, E = float(length), float(radius), float(E_s)
    G = E / (2 * (1 + nu_s))
    A, inertia = np.pi * r**2, np.pi * r**4 / 4
    phi = 12 * E * inertia / (cowper_shear_factor(nu_s) * G * A * L**2) if beam_flag(beam) else 0.0
    k = np.zeros((12, 12))
    k[np.ix_([0, 6], [0, 6])] = E * A / L * np.array([[1, -1], [-1, 1]])
    k[np.ix_([3, 9], [3, 9])] = G * 2 * inertia / L * np.array([[1, -1], [-1, 1]])
    c = E * inertia / ((1 + phi) * L**3)
    bend = c * np.array([[12, 6 * L, -12, 6 * L],
                         [6 * L, (4 + phi) * L**2, -6 * L, (2 - phi) * L**2],
                         [-12, -6 * L, 12, -6 * L],
                         [6 * L, (2 - phi) * L**2, -6 * L, (4 + phi) * L**2]])
    k[np.ix_([1, 5, 7, 11], [1, 5, 7, 11])] = bend  # v, th_z (x-y plane)
    flip = np.diag([1.0, -1.0, 1.0, -1.0])
    k[np.ix_([2, 4, 8, 10], [2, 4, 8, 10])] = flip @ bend @ flip  # w, th_y (x-z plane)
    return k


def local_axes(vector) -> np.ndarray:
    """(3, 3) rotation whose rows are an orthonormal local frame, row 0 along ``vector``."""
    t = np.asarray(vector, dtype=np.float64)
    t = t / np.linalg.norm(t)
    helper = np.eye(3)[int(np.argmin(np.abs(t)))]
    e2 = np.cross(t, helper)
    e2 /= np.linalg.norm(e2)
    return np.stack([t, e2, np.cross(t, e2)])
