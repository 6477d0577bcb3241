"""scripts/label_noise.py: the noise floor of nonlinear labels from other imperfection draws."""

import numpy as np
import pytest


def _draws(n=4000, m=13, sigma=0.01, k=3, seed=0):
    rng = np.random.default_rng(seed)
    strain = np.linspace(0.005, 0.245, m)
    mu = rng.uniform(0.5, 2.0, (n, 1)) * np.tanh(strain / rng.uniform(0.02, 0.1, (n, 1)))
    return [mu + sigma * rng.standard_normal((n, m)) for _ in range(k)], mu


def test_floor_estimates_recover_the_draw_spread(load_script):
    mod = load_script("label_noise")
    sigma = 0.01
    (labels, *others), _ = _draws(sigma=sigma, k=3)
    out = mod.noise_metrics(labels, others)
    true_floor = sigma / (labels.max() - labels.min())  # the global NRMSE of the mean over draws
    assert out["n_curves"] == len(labels) and len(out["pairwise"]) == 2
    for pw, fl in zip(out["pairwise"], out["floor_estimate"]):
        assert pw["global"] == pytest.approx(np.sqrt(2) * true_floor, rel=0.03)
        assert fl["global"] == pytest.approx(true_floor, rel=0.03)
    # the mean of K = 2 other draws as the prediction: error sigma sqrt(1 + 1/2)
    assert out["mean_of_others"]["global"] == pytest.approx(np.sqrt(1.5) * true_floor, rel=0.03)
    assert out["mean_of_others_floor_estimate"]["global"] == pytest.approx(true_floor, rel=0.03)
    # per curve: sigma / the curve's own range, on average
    (labels1, other1), mu = _draws(sigma=sigma, k=2, seed=1)
    per_curve = sigma / (labels1.max(axis=1) - labels1.min(axis=1))
    est = mod.noise_metrics(labels1, [other1])["floor_estimate"][0]
    assert est["median"] == pytest.approx(np.median(per_curve), rel=0.1)
    assert "mean_of_others" not in mod.noise_metrics(labels1, [other1])


def test_identical_draws_have_no_noise_and_fractions_count_curves(load_script):
    mod = load_script("label_noise")
    (labels, other), _ = _draws(n=100, k=2, sigma=0.0)
    out = mod.noise_metrics(labels, [labels.copy()])
    assert out["pairwise"][0]["mean"] == 0.0 and out["pairwise"][0]["fraction_above"]["0.01"] == 0.0
    shifted = labels.copy()
    shifted[:10] += 0.2 * (labels[:10].max(axis=1) - labels[:10].min(axis=1))[:, None]  # 20 % of the range
    frac = mod.noise_metrics(labels, [shifted])["pairwise"][0]["fraction_above"]
    assert frac == {"0.01": 0.1, "0.045": 0.1, "0.1": 0.1}


def test_bad_input_is_named(load_script):
    mod = load_script("label_noise")
    (labels, other), _ = _draws(n=10, k=2)
    with pytest.raises(ValueError, match="at least one other draw"):
        mod.noise_metrics(labels, [])
    with pytest.raises(ValueError, match="shapes differ"):
        mod.noise_metrics(labels, [other[:5]])
