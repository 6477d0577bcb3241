"""Corotational element: gradient/Hessian vs finite differences, linear limit, objectivity."""

import numpy as np
import pytest

from trussvae.fem.beam import element_stiffness
from trussvae.fem.corotational import (
    element_energy,
    element_properties,
    local_deformations,
    reference_triad,
    rotation_matrix,
)

D = np.array([0.3, 0.5, 0.8])
L0 = float(np.linalg.norm(D))
E0 = reference_triad(D)
PROPS = element_properties(L0, 0.05, 1.0, 0.3, 1)


def _energy(x, Ra, Rb, d, shallow):
    g, H = np.zeros(9), np.zeros((9, 9))
    ta = rotation_matrix(*x[3:6]) @ Ra @ E0
    tb = rotation_matrix(*x[6:9]) @ Rb @ E0
    W = element_energy(d + x[:3], ta, tb, L0, *PROPS, shallow, g, H)
    return W, g, H


def _fd_gradient_hessian(Ra, Rb, d, shallow, h=1e-4):
    """Central differences of the energy of the pulled-back state (d + x, exp(phi_a) Ra, exp(phi_b) Rb)."""
    gf, Hf = np.zeros(9), np.zeros((9, 9))
    eye = np.eye(9) * h
    for k in range(9):
        gf[k] = (_energy(eye[k], Ra, Rb, d, shallow)[0] - _energy(-eye[k], Ra, Rb, d, shallow)[0]) / (2 * h)
        for m in range(9):
            e = [_energy(s * eye[k] + t * eye[m], Ra, Rb, d, shallow)[0]
                 for s, t in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
            Hf[k, m] = (e[0] - e[1] - e[2] + e[3]) / (4 * h * h)
    return gf, Hf


@pytest.mark.parametrize("shallow", [0, 1])
def test_gradient_and_hessian_match_finite_differences(shallow):
    rng = np.random.default_rng(1)
    Ra, Rb = rotation_matrix(*rng.normal(size=3) * 0.5), rotation_matrix(*rng.normal(size=3) * 0.5)
    d = 0.9 * D + 0.1 * rng.normal(size=3)
    _, g, H = _energy(np.zeros(9), Ra, Rb, d, shallow)
    gf, Hf = _fd_gradient_hessian(Ra, Rb, d, shallow)
    assert np.abs(g - gf).max() < 1e-6 * np.abs(g).max()
    assert np.abs(H - Hf).max() < 1e-6 * np.abs(H).max()
    assert np.allclose(H, H.T, atol=1e-14 * np.abs(H).max())


def test_reference_tangent_equals_linear_element():
    _, _, H = _energy(np.zeros(9), np.eye(3), np.eye(3), D.copy(), 1)
    T = np.zeros((9, 12))
    T[:3, 6:9], T[:3, :3], T[3:6, 3:6], T[6:9, 9:12] = np.eye(3), -np.eye(3), np.eye(3), np.eye(3)
    K = element_stiffness(D, 0.05)
    assert np.abs(T.T @ H @ T - K).max() < 1e-12 * np.abs(K).max()


def test_rigid_rotation_is_stress_free():
    Q = rotation_matrix(0.7, -0.3, 2.1)
    g, H = np.zeros(9), np.zeros((9, 9))
    W = element_energy(Q @ D, Q @ E0, Q @ E0, L0, *PROPS, 1, g, H)
    assert abs(W) < 1e-20 and np.abs(g).max() < 1e-15


def test_rodrigues_is_orthogonal_and_exponential():
    phi = np.array([0.3, -1.2, 2.0])
    R = rotation_matrix(*phi)
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-14) and np.isclose(np.linalg.det(R), 1.0)
    assert np.allclose(R @ phi, phi)  # rotation about its own axis
    from scipy.linalg import expm
    S = np.array([[0, -phi[2], phi[1]], [phi[2], 0, -phi[0]], [-phi[1], phi[0], 0]])
    assert np.allclose(R, expm(S), atol=1e-13)


def _axis_perp_to(t, beta):
    """Unit vector perpendicular to t at angle beta in the (e2, e3) plane of t's reference triad."""
    E = reference_triad(t)
    return np.cos(beta) * E[:, 1] + np.sin(beta) * E[:, 2]


@pytest.mark.parametrize("theta", [1e-3, 0.3, 1.2, 2.0, 2.9])
def test_local_rotations_are_the_log_map_up_to_large_angles(theta):
    # bending: node a rotated by exp(theta n) with n perpendicular to the chord; the local rotation
    # vector must be exactly theta n (no sin-type saturation near 90 deg, no spurious zero at 180 deg)
    n = _axis_perp_to(D, 0.7)
    ta = rotation_matrix(*(theta * n)) @ E0
    m = local_deformations(D.copy(), ta, E0)
    assert m[0] == pytest.approx(L0, rel=1e-14)
    assert m[1] == pytest.approx(theta * n @ E0[:, 2], abs=1e-12)  # th_za: component along t^3
    assert m[2] == pytest.approx(theta * n @ E0[:, 1], abs=1e-12)  # th_ya: component along t^2
    assert abs(m[3]) < 1e-14 and abs(m[4]) < 1e-14 and abs(m[5]) < 1e-12
    # twist: node b rotated about the chord
    tb = rotation_matrix(*(theta * D / L0)) @ E0
    m = local_deformations(D.copy(), E0, tb)
    assert m[5] == pytest.approx(theta, rel=1e-12)
    assert np.abs(m[1:5]).max() < 1e-12
    # the bending energy keeps growing quadratically: W = kaa theta^2 / 2 (shallow term off)
    g, H = np.zeros(9), np.zeros((9, 9))
    W = element_energy(D.copy(), rotation_matrix(*(theta * n)) @ E0, E0, L0, *PROPS, 0, g, H)
    assert W == pytest.approx(0.5 * PROPS[1] * theta**2, rel=1e-10)


@pytest.mark.parametrize("angle", [0.02, 1.4, 2.4])
def test_tangent_matches_finite_differences_at_large_local_rotations(angle):
    # both branches of the rotation measure (series near the chord, closed form beyond)
    rng = np.random.default_rng(2)
    Ra = rotation_matrix(*(angle * _axis_perp_to(D, 0.3))) @ rotation_matrix(*(0.3 * D / L0))
    Rb = rotation_matrix(*(-0.8 * angle * _axis_perp_to(D, 2.0)))
    d = 0.95 * D + 0.02 * rng.normal(size=3)
    _, g, H = _energy(np.zeros(9), Ra, Rb, d, 1)
    gf, Hf = _fd_gradient_hessian(Ra, Rb, d, 1)
    assert np.abs(g - gf).max() < 1e-6 * np.abs(g).max()
    assert np.abs(H - Hf).max() < 1e-6 * np.abs(H).max()
    assert np.allclose(H, H.T, atol=1e-13 * np.abs(H).max())


def test_fixed_size_congruences_equal_the_generic_one():
    """The element's 6x9 and 9x9 congruences with literal trip counts give exactly the generic J^T A J."""
    from trussvae.fem.corotational import _congruence, _congruence_6x9, _congruence_9x9

    rng = np.random.default_rng(0)
    for m, fixed in ((6, _congruence_6x9), (9, _congruence_9x9)):
        J = rng.normal(size=(m, 9)) * (rng.random((m, 9)) < 0.5)
        A = rng.normal(size=(m, m))
        A = A + A.T
        ref, out = np.zeros((9, 9)), np.zeros((9, 9))
        _congruence(J, A, ref, np.zeros((9, 9)))
        fixed(J, A, out, np.zeros((9, 9)))
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_allclose(out, J.T @ A @ J, rtol=1e-12, atol=1e-12)
