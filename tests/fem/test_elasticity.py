"""Conventions and derived properties in trussvae.fem.elasticity."""

import numpy as np
import pytest

from trussvae.fem import elasticity as el


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def cubic(c11=0.3, c12=0.1, c44=0.05):
    C = np.zeros((6, 6))
    C[:3, :3] = c12
    C[np.arange(3), np.arange(3)] = c11
    C[np.arange(3, 6), np.arange(3, 6)] = c44
    return C


def orthotropic():
    return el.stiffness_from_orthotropic([0.3, 0.05, 0.07, 0.2, 0.04, 0.25, 0.02, 0.03, 0.05])


def test_isotropic_values():
    E, nu = 2.0, 0.3
    C = el.isotropic_stiffness(E, nu)
    G, K = E / (2 * (1 + nu)), E / (3 * (1 - 2 * nu))
    assert np.allclose(el.youngs_moduli(C), E) and np.allclose(el.shear_moduli(C), G)
    nus = el.poisson_ratios(C)
    assert np.allclose(nus[~np.eye(3, dtype=bool)], nu) and np.isnan(np.diag(nus)).all()
    for f, v in ((el.voigt_bulk_modulus, K), (el.reuss_bulk_modulus, K), (el.voigt_shear_modulus, G),
                 (el.reuss_shear_modulus, G)):
        assert f(C) == pytest.approx(v, rel=1e-12)
    assert el.universal_anisotropy(C) == pytest.approx(0, abs=1e-12)
    d = np.random.default_rng(0).normal(size=(10, 3))
    assert np.allclose(el.directional_youngs_modulus(C, d), E)
    R = random_rotation(np.random.default_rng(1))
    assert np.allclose(el.rotate_stiffness(C, R), C)


def test_voigt_mandel_tensor_round_trips():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(4, 6, 6))
    C = A @ np.swapaxes(A, -1, -2) + 6 * np.eye(6)  # batch of SPD stiffnesses
    S = el.stiffness_to_compliance(C)
    assert np.allclose(el.compliance_to_stiffness(S), C)
    for kind, M in (("stiffness", C), ("compliance", S)):
        assert np.allclose(el.mandel_to_voigt(el.voigt_to_mandel(M, kind), kind), M)
        assert np.allclose(el.tensor_to_voigt(el.voigt_to_tensor(M, kind), kind), M)
    # Mandel forms are mutually inverse; tensors are inverse on symmetric tensors
    assert np.allclose(el.voigt_to_mandel(C) @ el.voigt_to_mandel(S, "compliance"), np.eye(6))
    Ct, St = el.voigt_to_tensor(C), el.voigt_to_tensor(S, "compliance")
    eye = np.eye(3)
    sym = 0.5 * (np.einsum("im,jn->ijmn", eye, eye) + np.einsum("in,jm->ijmn", eye, eye))
    assert np.allclose(np.einsum("bijkl,bklmn->bijmn", Ct, St), sym)
    assert np.allclose(Ct, np.swapaxes(Ct, -1, -2)) and np.allclose(Ct, np.transpose(Ct, (0, 3, 4, 1, 2)))
    assert Ct[0, 1, 2, 1, 2] == C[0, 3, 3] and St[0, 1, 2, 1, 2] == pytest.approx(S[0, 3, 3] / 4)
    assert np.allclose(el.voigt_to_tensor(el.isotropic_stiffness(1, 0.3))[0, 1, 0, 1], 1 / 2.6)


def test_orthotropic_components_round_trip():
    v = np.arange(1, 10) / 10.0
    C = el.stiffness_from_orthotropic(v)
    assert np.allclose(el.orthotropic_components(C), v) and np.allclose(C, C.T)
    assert el.ORTHOTROPIC_NAMES[6] == "C2323" and len(el.ORTHOTROPIC_NAMES) == 9
    batch = el.stiffness_from_orthotropic(np.stack([v, 2 * v]))
    assert batch.shape == (2, 6, 6) and np.allclose(el.orthotropic_components(batch)[1], 2 * v)


def test_engineering_moduli_of_orthotropic():
    C = orthotropic()
    S = np.linalg.inv(C)
    assert np.allclose(el.youngs_moduli(C), 1 / np.diag(S)[:3])
    assert np.allclose(el.shear_moduli(C), [1 / S[3, 3], 1 / S[4, 4], 1 / S[5, 5]])
    assert np.allclose(el.shear_moduli(C), [0.02, 0.03, 0.05])  # decoupled shear: G = C44
    nu = el.poisson_ratios(C)
    assert nu[1, 0] == pytest.approx(-S[0, 1] / S[1, 1])  # nu_21: strain in 1 from stress in 2
    # reciprocity nu_ij / E_i = nu_ji / E_j
    E = el.youngs_moduli(C)
    assert nu[0, 1] / E[0] == pytest.approx(nu[1, 0] / E[1])
    axes = np.eye(3)
    assert np.allclose(el.directional_youngs_modulus(C, axes * 3.0), E)  # normalised internally


def test_rotation_and_directional_modulus():
    rng = np.random.default_rng(5)
    C, R = orthotropic(), random_rotation(rng)
    Cr = el.rotate_stiffness(C, R)
    d = rng.normal(size=(20, 3))
    assert np.allclose(el.directional_youngs_modulus(Cr, d @ R.T), el.directional_youngs_modulus(C, d))
    assert np.allclose(el.rotate_stiffness(Cr, R.T), C)
    for f in (el.voigt_bulk_modulus, el.reuss_bulk_modulus, el.voigt_shear_modulus, el.universal_anisotropy):
        assert f(Cr) == pytest.approx(f(C), rel=1e-10)  # rotation invariants
    Rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])  # 90 deg: swaps axes 1 and 2
    assert np.allclose(np.diag(el.rotate_stiffness(C, Rz))[[0, 1, 4, 3]], np.diag(C)[[1, 0, 3, 4]])


def test_cubic_anisotropy_index():
    """For cubic symmetry A^U = 6/5 (sqrt(A) - 1/sqrt(A))^2 with the Zener ratio A."""
    C = cubic()
    A = 2 * 0.05 / (0.3 - 0.1)
    assert el.universal_anisotropy(C) == pytest.approx(1.2 * (np.sqrt(A) - 1 / np.sqrt(A)) ** 2, rel=1e-10)
    assert el.directional_youngs_modulus(C, [1, 0, 0]) == pytest.approx(el.youngs_moduli(C)[0])
    S = np.linalg.inv(C)
    s111 = 1 / (S[0, 0] - 2 * (S[0, 0] - S[0, 1] - S[3, 3] / 2) / 3)  # textbook E_<111>
    assert el.directional_youngs_modulus(C, [1, 1, 1]) == pytest.approx(s111, rel=1e-12)


def test_bounds():
    rho = np.array([0.15, 1.0])
    v, hs = el.voigt_bound(rho), el.hashin_shtrikman_upper(rho)
    assert v.E[0] == pytest.approx(0.15) and v.G[0] == pytest.approx(0.15 / 2.6)
    assert np.allclose([hs.E[1], hs.K[1], hs.G[1]], [1.0, 1 / 1.2, 1 / 2.6])
    assert np.all(hs.E[0] < v.E[0]) and hs.K[0] < v.K[0] and hs.G[0] < v.G[0]
    assert el.hashin_shtrikman_upper(1e-6).E / 1e-6 == pytest.approx(0.5, rel=1e-2)  # (7-5nu)/(2(...)) ~ 0.5


def test_elastic_surface():
    C = orthotropic()
    pts, vals = el.elastic_surface(C, 11, 21)
    assert pts.shape == (11, 21, 3) and vals.shape == (11, 21)
    assert np.allclose(np.linalg.norm(pts, axis=-1), vals)
    assert vals[0, 0] == pytest.approx(el.youngs_moduli(C)[2])  # theta = 0 is the 3-axis
    with pytest.raises(ValueError):
        el.voigt_to_tensor(C, "strain")
