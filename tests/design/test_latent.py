"""Latent exploration (trussvae.design.latent) on the small overfitted VAE."""

import numpy as np
import pytest
import torch

from trussvae.design.latent import evaluate_path, interpolate, sample_neighbourhood, sample_prior, slerp, traverse_axis
from trussvae.fem import homogenize


def test_slerp_endpoints_and_norm():
    z1, z2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    z = slerp(z1, z2, torch.linspace(0, 1, 5))
    torch.testing.assert_close(z[0], z1)
    torch.testing.assert_close(z[-1], z2)
    assert float(z[2].norm()) > float(((z1 + z2) / 2).norm())  # on the arc, not the chord


def test_latent_exploration_paths(model, train_set):
    _, _, _, graphs = train_set
    d = model.latent_dim
    assert sample_prior(model, 5, seed=1).z.shape == (5, d)
    nb = sample_neighbourhood(model, graphs[0], 4, radius=0.1)
    assert nb.z.shape == (5, d)
    tr = traverse_axis(model, graphs[0], axis=d - 1, n=5)
    assert np.allclose(np.diff(tr.z[:, d - 1]), 1.5) and "geometry" in tr.label
    with pytest.raises(ValueError, match="axis"):
        traverse_axis(model, graphs[0], axis=d)
    path = evaluate_path(interpolate(model, graphs[0], graphs[1], n=4, method="linear"))
    assert path.stiffness.shape == (4, 6, 6) and len(path.final) == 4
    for g, C in zip(path.final, path.stiffness):
        assert (g is None) == bool(np.isnan(C).all())
        if g is not None:
            np.testing.assert_allclose(C, homogenize(g.to_frame(relative_density=0.15)), rtol=1e-9)
    with pytest.raises(ValueError, match="slerp"):
        interpolate(model, graphs[0], graphs[1], method="cubic")


def test_evaluate_path_needs_linear_settings(model, train_set):
    from trussvae.fem.settings import NonlinearFESettings

    path = sample_prior(model, 2, seed=0)
    with pytest.raises(ValueError, match="LinearFESettings"):
        evaluate_path(path, fe=NonlinearFESettings())
