"""The Gaussian-mixture latent prior."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from trussvae.models.latent_prior import GaussianMixturePrior


def _clusters(n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 4, generator=g) * 0.3 + torch.tensor([3.0, 0, 0, 0])
    b = torch.randn(n // 2, 4, generator=g) * 0.5 + torch.tensor([-3.0, 1, 0, 0])
    return torch.cat([a, b])


def test_recovers_two_clusters():
    prior = GaussianMixturePrior(4, n_components=2)
    info = prior.fit(_clusters(), seed=0)
    order = torch.argsort(prior.means[:, 0])
    assert torch.allclose(prior.means[order][:, 0], torch.tensor([-3.0, 3.0]), atol=0.05)
    assert torch.allclose(prior.weights[order], torch.tensor([1 / 3, 2 / 3]), atol=0.01)
    assert np.isfinite(info["log_likelihood"]) and info["iterations"] >= 1


def test_one_component_is_the_gaussian_fit():
    z = _clusters()
    prior = GaussianMixturePrior(4, n_components=1)
    prior.fit(z, reg=0.0)
    x = z[:50].double().numpy()
    ref = multivariate_normal(z.double().mean(0).numpy(), np.cov(z.double().numpy().T, bias=True)).logpdf(x)
    assert np.allclose(prior.log_prob(z[:50]).double().numpy(), ref, atol=1e-3)


def test_sampling_is_seeded_and_follows_the_fit():
    prior = GaussianMixturePrior(4, n_components=2)
    with pytest.raises(RuntimeError, match="not been fitted"):
        prior.sample(3)
    prior.fit(_clusters())
    s1 = prior.sample(4000, torch.Generator().manual_seed(1))
    s2 = prior.sample(4000, torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)
    assert abs(float((s1[:, 0] > 0).float().mean()) - 2 / 3) < 0.03
    state = prior.state_dict()
    other = GaussianMixturePrior(4, n_components=2)
    other.load_state_dict(state)
    assert other.fitted and torch.equal(other.sample(5, torch.Generator().manual_seed(2)),
                                        prior.sample(5, torch.Generator().manual_seed(2)))


def test_bad_input():
    prior = GaussianMixturePrior(4, n_components=8)
    with pytest.raises(ValueError, match="at least 16"):
        prior.fit(torch.zeros(10, 4))
    with pytest.raises(ValueError, match="dimensions"):
        prior.fit(torch.zeros(100, 3))
    z = torch.zeros(100, 4)
    z[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        prior.fit(z)
