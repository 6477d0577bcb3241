"""The 12x12 frame element: symmetry, rigid-body modes, agreement with the local textbook matrix."""

import numpy as np
import pytest

from trussvae.fem.beam import (
    cowper_shear_factor,
    element_stiffness,
    local_axes,
    local_element_stiffness,
)

VECTORS = [np.array([0.3, -0.5, 0.8]), np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -2.0])]


def rigid_modes(vector):
    """(12, 6) rigid translations and rotations of a strut from 0 to ``vector``."""
    modes = np.zeros((12, 6))
    for k in range(3):
        modes[k, k] = modes[6 + k, k] = 1.0
        w = np.eye(3)[k]
        modes[3 + k, 3 + k] = modes[9 + k, 3 + k] = 1.0
        modes[6:9, 3 + k] = np.cross(w, vector)  # u_b = w x (x_b - x_a)
    return modes


@pytest.mark.parametrize("beam", ["timoshenko", "euler_bernoulli"])
@pytest.mark.parametrize("vector", VECTORS)
def test_symmetric_with_six_rigid_modes(beam, vector):
    K = element_stiffness(vector, 0.07, beam=beam)
    assert np.array_equal(K, K.T)
    eig = np.linalg.eigvalsh(K)
    assert np.all(np.abs(eig[:6]) < 1e-12 * eig[-1])
    assert eig[6] > 1e-6 * eig[-1]
    assert np.abs(K @ rigid_modes(vector)).max() < 1e-12 * np.abs(K).max()


@pytest.mark.parametrize("beam", ["timoshenko", "euler_bernoulli"])
@pytest.mark.parametrize("vector", VECTORS)
def test_equals_rotated_local_matrix(beam, vector):
    """Axis-only closed form == T^T k_local T for an arbitrary orthonormal local frame."""
    L = np.linalg.norm(vector)
    R = local_axes(vector)
    spin = np.array([[1, 0, 0], [0, np.cos(0.7), np.sin(0.7)], [0, -np.sin(0.7), np.cos(0.7)]])
    for axes in (R, spin @ R):  # any rotation about the strut axis
        T = np.kron(np.eye(4), axes)
        ref = T.T @ local_element_stiffness(L, 0.07, beam=beam) @ T
        K = element_stiffness(vector, 0.07, beam=beam)
        assert np.allclose(K, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_cantilever_tip_deflection():
    """Clamped-free strut, transverse tip load P: EB P L^3/(3EI); Timoshenko adds P L/(kappa G A)."""
    L, r, E, nu, P = 2.0, 0.1, 1.0, 0.3, 1e-3
    inertia, area, G = np.pi * r**4 / 4, np.pi * r**2, E / (2 * (1 + nu))
    shear = P * L / (cowper_shear_factor(nu) * G * area)
    for beam, extra in (("euler_bernoulli", 0.0), ("timoshenko", shear)):
        K = element_stiffness([L, 0, 0], r, E, nu, beam)
        free = np.arange(6, 12)
        f = np.zeros(6)
        f[1] = P
        u = np.linalg.solve(K[np.ix_(free, free)], f)
        assert u[1] == pytest.approx(P * L**3 / (3 * E * inertia) + extra, rel=1e-12)
        assert u[5] == pytest.approx(P * L**2 / (2 * E * inertia), rel=1e-12)  # tip rotation


def test_cowper_factor():
    assert cowper_shear_factor(0.3) == pytest.approx(6 * 1.3 / 8.8)
    with pytest.raises(ValueError):
        element_stiffness([1, 0, 0], 0.1, beam="bernoulli")
