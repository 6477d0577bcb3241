"""The k-hop Rayleigh-Ritz stiffness estimate: bounds, nesting, convergence to the FE, symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from trussvae.fem import homogenize_many
from trussvae.fem.ritz import ritz_stiffness, ritz_stiffness_many
from trussvae.generation import generate_structures


@pytest.fixture(scope="module")
def frames():
    graphs = generate_structures(12, seed=5)
    return [g.to_frame() for g in graphs]


def test_zero_hops_is_the_affine_voigt_energy(frames):
    from trussvae.fem.periodic import assemble_system

    fr = frames[0]
    _, _, Kee = assemble_system(fr)
    np.testing.assert_allclose(ritz_stiffness(fr, hops=0), 0.5 * (Kee + Kee.T) / abs(np.linalg.det(fr.lattice_vectors)),
                               rtol=1e-12)


def test_estimate_is_an_upper_bound_that_decreases_with_hops_to_the_fe(frames):
    C = homogenize_many(frames)
    scale = np.abs(C).max()
    prev = None
    for hops in (0, 1, 2, 3):
        R = ritz_stiffness_many(frames, hops=hops)
        # Rayleigh-Ritz: R - C is positive semi-definite (never softer than the FE in any direction)
        assert np.linalg.eigvalsh(R - C).min() > -1e-10 * scale
        if prev is not None:  # nested trial spaces: every hop can only lower the energy
            assert np.linalg.eigvalsh(prev - R).min() > -1e-10 * scale
            assert np.abs(R - C).max() < np.abs(prev - C).max()
        prev = R
    # the (orthonormalised) Krylov space grows to all fluctuations: enough hops reproduce the FE
    np.testing.assert_allclose(ritz_stiffness_many(frames, hops=25), C, rtol=0, atol=1e-10 * scale)


def test_two_hops_are_within_a_few_percent_on_the_diagonal(frames):
    C = homogenize_many(frames)
    R = ritz_stiffness_many(frames, hops=2)
    diag = np.arange(6)
    rel = (R[:, diag, diag] - C[:, diag, diag]) / C[:, diag, diag]
    assert np.all(rel > -1e-9) and np.median(rel) < 0.1


def test_bad_hops_and_empty_inputs():
    with pytest.raises(ValueError, match="hops"):
        ritz_stiffness_many([], hops=-1)
    with pytest.raises(ValueError, match="hops"):
        ritz_stiffness_many([], hops=1.5)
    assert ritz_stiffness_many([]).shape == (0, 6, 6)
