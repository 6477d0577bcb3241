"""scripts/curve_ensemble.py: the metrics of averaged curve predictors."""

import numpy as np
import pytest


def _curves(n=3000, m=13, seed=0):
    rng = np.random.default_rng(seed)
    strain = np.linspace(0.005, 0.245, m)
    return rng.uniform(0.5, 2.0, (n, 1)) * np.tanh(strain / rng.uniform(0.02, 0.1, (n, 1))) + 0.01


def test_averaging_independent_errors_reduces_them(load_script):
    mod = load_script("curve_ensemble")
    true = _curves()
    rng = np.random.default_rng(1)
    sigma = 0.02
    preds = {f"run{k}": true + sigma * rng.standard_normal(true.shape) for k in range(4)}
    out = mod.ensemble_metrics(true, preds)
    assert set(out) == {"members", "ensemble_mean", "ensemble_geometric"}
    true_global = sigma / (true.max() - true.min())
    for m in out["members"].values():
        assert m["global"] == pytest.approx(true_global, rel=0.03)
    # the mean of 4 independent errors: sigma / 2
    assert out["ensemble_mean"]["global"] == pytest.approx(true_global / 2, rel=0.03)
    assert out["ensemble_mean"]["mean"] < 0.6 * min(m["mean"] for m in out["members"].values())
    assert out["ensemble_geometric"] is None  # additive noise: some stresses are negative
    # multiplicative (log-normal) errors: the geometric average is defined and gains as much
    logn = {k: true * np.exp(0.05 * rng.standard_normal(true.shape)) for k in ("a", "b", "c", "d")}
    out = mod.ensemble_metrics(true, logn)
    for how in ("ensemble_mean", "ensemble_geometric"):
        assert out[how]["mean"] < 0.6 * min(m["mean"] for m in out["members"].values())


def test_identical_members_give_their_own_metrics(load_script):
    mod = load_script("curve_ensemble")
    true = _curves(seed=2)
    pred = true * np.exp(0.05 * np.random.default_rng(3).standard_normal(true.shape))
    out = mod.ensemble_metrics(true, {"a": pred, "b": pred.copy()})
    for how in ("ensemble_mean", "ensemble_geometric"):
        assert out[how] == pytest.approx(out["members"]["a"], rel=1e-12)


def test_averages(load_script):
    mod = load_script("curve_ensemble")
    a, b = np.full((2, 3), 1.0), np.full((2, 3), 4.0)
    assert np.allclose(mod.average_curves([a, b]), 2.5)
    assert np.allclose(mod.average_curves([a, b], "geometric"), 2.0)


def test_bad_input_is_named(load_script):
    mod = load_script("curve_ensemble")
    true = _curves(n=10)
    with pytest.raises(ValueError, match="shape"):
        mod.ensemble_metrics(true, {"a": true[:5]})
    with pytest.raises(ValueError, match="how must be"):
        mod.average_curves([true], "median")
    with pytest.raises(ValueError, match="at least one"):
        mod.average_curves([])
    with pytest.raises(ValueError, match="positive"):
        mod.average_curves([-true], "geometric")
