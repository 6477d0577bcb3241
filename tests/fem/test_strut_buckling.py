"""Sequentially linear buckled-strut curves (trussvae.fem.strut_buckling)."""

import numpy as np
import pytest

from trussvae.fem import PeriodicFrame, homogenize
from trussvae.fem.elasticity import LABEL_STRAINS, youngs_moduli
from trussvae.fem.linear import MechanismError
from trussvae.fem.nonlinear import strut_compression_rates
from trussvae.fem.strut_buckling import _system, chain_lengths, euler_strains, strut_buckling_curves
from trussvae.generation import elementary, generate_structures


def test_simple_cubic_is_linear_to_the_euler_strain_then_the_elastica_plateau():
    """Only the vertical column carries the load (two half struts through a mid-edge node without other struts:
    one column of the cell's height). The curve is E3 eps up to its Euler strain, then the elastica's initial
    post-buckling slope, rho E3 with rho = eps_E / 2; pinned ends (eps_E) and fixed ends (4 eps_E)."""
    sc = elementary("simple_cubic").to_frame(relative_density=0.15)
    np.testing.assert_allclose(sc.strut_lengths(), 0.5)
    np.testing.assert_allclose(chain_lengths(sc), 1.0)
    res = strut_buckling_curves(sc)
    vertical = np.abs(sc.strut_vectors()[:, 2]) > 0.9 * sc.strut_lengths()
    r = sc.radii()[vertical][0]
    e3 = youngs_moduli(homogenize(sc))[2]
    assert res.initial_modulus == pytest.approx(e3, rel=1e-9)
    for i, f in enumerate((1.0, 4.0)):
        eps_e = f * np.pi**2 * r**2 / 4
        assert euler_strains(sc, f)[vertical][0] == pytest.approx(eps_e, rel=1e-12)
        assert LABEL_STRAINS[0] < eps_e < LABEL_STRAINS[-1]
        expected = np.where(LABEL_STRAINS <= eps_e, e3 * LABEL_STRAINS,
                            e3 * (eps_e + eps_e / 2 * (LABEL_STRAINS - eps_e)))
        np.testing.assert_allclose(res.stress[i], expected, rtol=1e-9)
        np.testing.assert_array_equal(res.buckled_struts[i], vertical)
        np.testing.assert_allclose(res.buckled[i], np.where(LABEL_STRAINS > eps_e, vertical.mean(), 0.0))


def test_chains_join_only_straight_struts_through_unsupported_nodes():
    """A kinked node of degree 2, or a node with more struts, ends a chain."""
    cubic = PeriodicFrame(np.eye(3), [[0, 0, 0], [0, 0, 0.5]], [[0, 1], [1, 0]], [[0, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(chain_lengths(cubic), 1.0)
    kinked = PeriodicFrame(np.eye(3), [[0, 0, 0], [0.1, 0, 0.5]], [[0, 1], [1, 0]], [[0, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(chain_lengths(kinked), kinked.strut_lengths())
    for name in ("octet", "bcc"):
        frame = elementary(name).to_frame(relative_density=0.15)
        np.testing.assert_allclose(chain_lengths(frame), frame.strut_lengths())


def _generated(n=3, seed=7):
    return [g.to_frame(relative_density=0.15) for g in generate_structures(n, seed=seed)]


@pytest.mark.parametrize("confined", [False, True])
def test_unbuckled_response_is_the_label_cells_linear_response(confined):
    """The struts' compression rates and E3 agree with the labels' cell (two corotational elements per strut,
    here without its imperfection: the exact beam matrices, so to rounding)."""
    for frame in [elementary("octet").to_frame(relative_density=0.15), *_generated(2)]:
        res = strut_buckling_curves(frame, confined=confined)
        rate, e0 = strut_compression_rates(frame, confined=confined, imperfection=0.0)
        assert res.initial_modulus == pytest.approx(e0, rel=1e-10)
        np.testing.assert_allclose(res.rates, rate, atol=1e-10 * np.abs(rate).max())


def test_tangent_after_the_events_is_the_direct_solve_of_the_buckled_cell():
    """Where no strut buckles between the last two label strains, the curve's slope there is the modulus of the
    cell with the buckled struts' axial stiffness cut to rho k, solved directly (no Woodbury update)."""
    checked = 0
    for frame in _generated(6, seed=11):
        res = strut_buckling_curves(frame)
        A, b, k33, G, g3 = _system(frame, 1.0, 0.3, "timoshenko", False)
        k = np.pi * frame.radii()**2 * frame.strut_lengths()
        for i, f in enumerate((1.0, 4.0)):
            B = res.buckled_struts[i]
            if res.buckled[i, -1] != res.buckled[i, -2] or not B.any():
                continue
            c = np.where(B, (1 - euler_strains(frame, f) / 2) * k, 0.0)
            A2 = A - (G.T * c) @ G
            b2 = b - G.T @ (c * g3)
            et = (k33 - np.sum(c * g3**2) - b2 @ np.linalg.solve(A2, b2)) / frame.cell_volume()
            slope = (res.stress[i, -1] - res.stress[i, -2]) / (LABEL_STRAINS[-1] - LABEL_STRAINS[-2])
            assert slope == pytest.approx(et, rel=1e-6, abs=1e-12)
            checked += 1
    assert checked >= 4


def test_curves_are_monotone_bounded_and_pinned_below_fixed():
    for frame in _generated(5, seed=3):
        res = strut_buckling_curves(frame)
        secant = res.stress / (res.initial_modulus * LABEL_STRAINS)
        assert np.all(np.diff(res.stress, axis=1) > 0)
        assert np.all(secant <= 1 + 1e-12) and np.all(secant > 0)
        assert np.all(res.stress[0] <= res.stress[1] * (1 + 1e-9))
        assert np.all(np.diff(res.buckled, axis=1) >= 0)


def test_bad_input_is_named():
    sc = elementary("simple_cubic").to_frame(relative_density=0.15)
    with pytest.raises(ValueError, match="increasing"):
        strut_buckling_curves(sc, strains=[0.1, 0.05])
    with pytest.raises(ValueError, match="factors"):
        strut_buckling_curves(sc, factors=[0.0])
    with pytest.raises(MechanismError):
        strut_buckling_curves(PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0], [0, 0]], [[1, 0, 0], [0, 1, 0]], 0.05))
