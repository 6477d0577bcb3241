"""PaperMetricsCallback and the nonlinear curve metrics, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from trussvae.data import TrussDataModule
from trussvae.models import TrussVAE
from trussvae.models.evaluation import PaperMetricsCallback, curve_metrics, paper_split_metrics, train_subset
from trussvae.models.paper_metrics import PaperMetrics, paper_validity

torch.set_num_threads(1)


def _curve_literal(t, p):
    """Per curve, point and test set, written out with loops."""
    per_curve = []
    for i in range(len(t)):
        rng = t[i].max() - t[i].min()
        if rng > 0:
            per_curve.append(np.sqrt(np.mean((p[i] - t[i]) ** 2)) / rng)
    glob = np.sqrt(np.mean((p - t) ** 2)) / (t.max() - t.min())
    r2 = [1 - np.sum((p[:, k] - t[:, k]) ** 2) / np.sum((t[:, k] - t[:, k].mean()) ** 2) for k in range(t.shape[1])]
    return np.mean(per_curve), np.median(per_curve), glob, np.array(r2)


def test_curve_metrics_match_direct_computation():
    rng = np.random.default_rng(0)
    strain = np.arange(0.005, 0.25, 0.02)
    t = rng.lognormal(-6, 0.5, (50, 1)) * strain * (1 + rng.normal(0, 0.2, (50, 13)))
    p = t * rng.lognormal(0, 0.1, t.shape)
    t[3] = 2e-4  # a flat true curve: no per-curve NRMSE, counted
    got = curve_metrics(t, p, prefix="test")
    mean, median, glob, r2 = _curve_literal(t, p)
    assert got["test/curve_nrmse_mean"] == pytest.approx(mean, rel=1e-12)
    assert got["test/curve_nrmse_median"] == pytest.approx(median, rel=1e-12)
    assert got["test/curve_nrmse_global"] == pytest.approx(glob, rel=1e-12)
    assert got["test/curve_flat_count"] == 1.0
    for k in range(13):
        assert got[f"test/curve_r2_e{k:02d}"] == pytest.approx(r2[k], rel=1e-10)
    assert got["test/curve_r2_min"] == pytest.approx(r2.min(), rel=1e-10)
    assert curve_metrics(t, t)["test/curve_nrmse_mean"] == 0.0
    # a point where every true stress is equal has no R^2; all curves flat: no per-curve NRMSE
    const = np.ones((4, 3))
    flat = curve_metrics(const, const + 0.1, prefix="val")
    assert np.isnan(flat["val/curve_r2_e00"]) and np.isnan(flat["val/curve_nrmse_mean"])
    assert np.isnan(flat["val/curve_nrmse_global"]) and flat["val/curve_flat_count"] == 4.0
    with pytest.raises(ValueError, match="equal"):
        curve_metrics(t, p[:, :5])
    with pytest.raises(ValueError, match="non-finite"):
        curve_metrics(np.full((2, 3), np.nan), np.zeros((2, 3)))


@pytest.fixture(scope="module")
def tiny(labelled_store):
    dm = TrussDataModule(str(labelled_store.root), batch_size=64)
    dm.setup("fit")
    nz = dm.normalizer
    torch.manual_seed(0)
    model = TrussVAE(d_A=6, d_x=6, d_Ax=2, adj_hidden=(32,), feat_hidden=(16,), pred_hidden=(16,),
                     property_names=dm.label_names, label_mean=nz.mean, label_std=nz.std,
                     label_log_mask=nz.log_mask, validity_samples=0)
    return dm, model


def _trainer(cb, **kw):
    return pl.Trainer(accelerator="cpu", logger=False, callbacks=[cb], enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, **kw)


def _direct(model, dm, tensors, sample_seed=None):
    """PaperMetrics on predictions made here, in one batch."""
    with torch.no_grad():
        mu, logvar = model.encode(tensors["adj"], tensors["offsets"])
        z = mu if sample_seed is None else mu + torch.randn(mu.shape, generator=torch.Generator().manual_seed(
            sample_seed)) * torch.exp(0.5 * logvar)
        prob, off = model.decode(z)
        y_pred = dm.normalizer.denormalize(model.predict(mu).double().numpy())
    y_true = dm.normalizer.denormalize(tensors["y"].double().numpy())
    m = PaperMetrics(dm.label_names)
    m.update(tensors["adj"], prob, tensors["offsets"], off, y_true, y_pred)
    return m.compute("x")


def test_callback_equals_direct_paper_metrics(tiny):
    dm, model = tiny
    cb = PaperMetricsCallback(train_samples=100, validity_samples=200, seed=3, batch_size=10_000)
    trainer = _trainer(cb)
    trainer.test(model, datamodule=dm)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    test = dm.datasets["test"].tensors
    idx = torch.as_tensor(train_subset(len(dm.datasets["train"]), 100, 3))
    train = {k: v[idx] for k, v in dm.datasets["train"].tensors.items()}
    for prefix, tensors, seed in [("paper", test, None), ("paper_sampled", test, 3), ("paper_train", train, None)]:
        direct = _direct(model, dm, tensors, seed)
        for key, value in direct.items():
            name = key.split("/", 1)[1]
            if prefix == "paper_sampled" and name.startswith("property"):
                assert f"{prefix}/{name}" not in logged  # properties come from mu: reported once, under paper/
                continue
            assert logged[f"{prefix}/{name}"] == pytest.approx(value, rel=1e-5, abs=1e-6), (prefix, name)
    assert {f"paper/property_r2_{n}" for n in dm.label_names} <= set(logged)
    with torch.no_grad():
        z = torch.randn(200, model.latent_dim, generator=torch.Generator().manual_seed(3))
        assert logged["paper/validity"] == pytest.approx(paper_validity(model.decode(z)[0].numpy()))
    assert len(idx) == 100 and len(set(idx.tolist())) == 100
    assert not any(k.startswith("test/curve") for k in logged)  # linear model: no curve metrics


def test_streaming_batches_do_not_change_the_mean_metrics(tiny):
    dm, model = tiny
    t = dm.datasets["test"].tensors
    one, y1, p1 = paper_split_metrics(model.net, t["adj"], t["offsets"], t["y"], batch_size=10_000)
    many, y2, p2 = paper_split_metrics(model.net, t["adj"], t["offsets"], t["y"], batch_size=7)
    assert one.keys() == many.keys()
    for k in one:
        assert many[k] == pytest.approx(one[k], rel=1e-6, abs=1e-9), k  # float32 forward: batch-size rounding
    np.testing.assert_allclose(y1, y2)
    np.testing.assert_allclose(p1, p2, rtol=1e-6)
    with pytest.raises(ValueError, match="no structures"):
        paper_split_metrics(model.net, t["adj"][:0], t["offsets"][:0], t["y"][:0])


def test_validation_epochs_log_val_prefixed_keys(tiny):
    dm, model = tiny
    cb = PaperMetricsCallback(train_samples=50, validity_samples=20, sampled=False)
    trainer = _trainer(cb, max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    keys = set(trainer.callback_metrics)
    assert {"val/paper/adjacency_accuracy", "val/paper_train/node_r2_x", "val/paper/validity",
            "val/paper/property_r2_min"} <= keys
    assert not any(k.startswith(("paper", "val/paper_sampled")) for k in keys)
    skip = _trainer(PaperMetricsCallback(validity_samples=0, every_n_epochs=2), max_epochs=1, limit_train_batches=1,
                    limit_val_batches=1, num_sanity_val_steps=0)
    skip.fit(model, datamodule=dm)
    assert not any("paper" in k for k in skip.callback_metrics)  # epoch 1 of every 2nd: not evaluated


def test_callback_needs_split_tensors(tiny):
    _, model = tiny
    with pytest.raises(ValueError, match="'test' split"):
        PaperMetricsCallback().evaluate(model.net, {}, "test")
    with pytest.raises(ValueError, match="must be >= 0"):
        PaperMetricsCallback(train_samples=-1)
    with pytest.raises(ValueError, match="every_n_epochs=0"):
        PaperMetricsCallback(every_n_epochs=0)
