"""The levers of issue 15: symmetry augmentation, test-time averaging, admissible predictions, learned prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trussvae.data.normalization import fit_normalizer
from trussvae.design_space import symmetry
from trussvae.models import TrussVAE, TrussVAENet
from trussvae.models.augment import allowed_operations
from trussvae.models.checkpoint import network_state_dict

torch.set_num_threads(1)
SMALL = dict(d_A=6, d_x=5, d_Ax=2, adj_hidden=[32], feat_hidden=[16], pred_hidden=[32], validity_samples=20,
             admissible_samples=2000)


@pytest.fixture(scope="module")
def data(store_rows):
    """Inputs and FE labels of the tiny store, and a normaliser that logs some components (auto)."""
    adj, off, y = store_rows
    norm = fit_normalizer(y, "auto")
    assert any(norm.log_mask) and not all(norm.log_mask)  # mixed: renormalisation must be per component
    return adj, off, y, norm


def _model(norm, **kw):
    return TrussVAE(**{**SMALL, **kw}, label_mean=norm.mean, label_std=norm.std, label_log_mask=norm.log_mask)


def test_augmented_labels_agree_with_the_fe_of_the_augmented_inputs(data):
    from trussvae.design_space.truss_graph import TrussGraph
    from trussvae.fem import homogenize_many
    from trussvae.fem.elasticity import DEFAULT_RELATIVE_DENSITY, orthotropic_components

    adj, off, y, norm = data
    m = _model(norm, augment="all")
    B = 6
    batch = {"adj": adj[:B], "offsets": off[:B], "y": torch.as_tensor(norm.normalize(y[:B]), dtype=torch.float32)}
    torch.manual_seed(3)
    out = m.augment_batch(batch)
    assert len(set(out["op"].tolist())) > 1 and not torch.equal(out["adj"], batch["adj"])
    graphs = [TrussGraph.from_vae_input(a.numpy(), o.double().numpy(), 0.5) for a, o in zip(out["adj"], out["offsets"])]
    fe = orthotropic_components(homogenize_many([g.to_frame(relative_density=DEFAULT_RELATIVE_DENSITY)
                                                 for g in graphs]))
    labels = m.denormalise(out["y"].double()).numpy()
    np.testing.assert_allclose(labels, fe, rtol=2e-5, atol=1e-9 * np.abs(fe).max())
    # exactly the numpy tables of the design space
    expect = np.stack([symmetry.transform_orthotropic(y[i], int(k)) for i, k in enumerate(out["op"])])
    np.testing.assert_allclose(labels, expect, rtol=1e-5)


def test_augment_subsets_probability_and_nonlinear_labels(data):
    adj, off, _, _ = data
    assert len(allowed_operations("axes")) == 6 and len(allowed_operations("mirrors")) == 8
    assert len(allowed_operations("all")) == 48 and len(allowed_operations("all", "nonlinear")) == 16
    assert set(allowed_operations("all", "nonlinear")) == set(symmetry.operations_fixing_axis(2))
    y = torch.randn(len(adj), 13)
    m = TrussVAE(**SMALL, target="nonlinear", n_properties=13, augment="all")
    torch.manual_seed(0)
    out = m.augment_batch({"adj": adj, "offsets": off, "y": y})
    assert set(out["op"].tolist()) <= set(symmetry.operations_fixing_axis(2).tolist())
    assert torch.equal(out["y"], y)  # curves along e3: unchanged
    m = TrussVAE(**SMALL, augment="mirrors", augment_prob=0.0)
    out = m.augment_batch({"adj": adj, "offsets": off, "y": torch.randn(len(adj), 9)})
    assert torch.equal(out["adj"], adj) and torch.equal(out["offsets"], off) and (out["op"] == 0).all()
    # seeded through torch's global generator (pl.seed_everything)
    m = TrussVAE(**SMALL, augment="axes")
    ops = []
    for _ in range(2):
        torch.manual_seed(7)
        ops.append(m.augment_batch({"adj": adj, "offsets": off, "y": torch.zeros(len(adj), 9)})["op"])
    assert torch.equal(*ops) and set(ops[0].tolist()) <= set(allowed_operations("axes").tolist())
    # the test metrics' TTA averages over the variants the model was trained on (all 48 without augmentation)
    np.testing.assert_array_equal(m.tta_operations(), allowed_operations("axes"))
    np.testing.assert_array_equal(TrussVAE(**SMALL).tta_operations(), allowed_operations("all"))
    np.testing.assert_array_equal(TrussVAE(**SMALL, target="nonlinear", n_properties=13, augment="mirrors")
                                  .tta_operations(), allowed_operations("mirrors", "nonlinear"))


def test_tta_is_invariant_over_variants_and_identity_is_plain(data):
    adj, off, _, norm = data
    torch.manual_seed(0)
    net = _model(norm).net.double().eval()
    a, o = adj[:5].double(), off[:5].double()
    with torch.no_grad():
        mu, _ = net.encode(a, o)
        np.testing.assert_allclose(net.predict_tta(a, o, ops=[0]), net.predict(mu), rtol=1e-10, atol=1e-10)
        ref = net.denormalise(net.predict_tta(a, o))
        for k in (5, 17, 40):  # TTA of a variant = TTA of the input, permuted like the labels
            a_k, o_k = net.symmetry.inputs(a, o, torch.full((5,), k))
            got = net.denormalise(net.predict_tta(a_k, o_k))
            np.testing.assert_allclose(got, symmetry.transform_orthotropic(ref.numpy(), k), rtol=1e-9, atol=1e-12)
        assert not torch.allclose(net.predict_tta(a, o), net.predict(mu))  # an untrained net is not invariant
    nl = TrussVAENet(d_A=6, d_x=5, d_Ax=2, target="nonlinear", n_properties=13).double().eval()
    with torch.no_grad():
        ref = nl.predict_tta(a, o)
        a_k, o_k = nl.symmetry.inputs(a, o, torch.full((5,), 18))  # keeps axis 2
        np.testing.assert_allclose(nl.predict_tta(a_k, o_k), ref, rtol=1e-9, atol=1e-12)
        with pytest.raises(ValueError, match="axis 2"):
            nl.predict_tta(a, o, ops=[8])
    with pytest.raises(ValueError, match="indices"):
        net.predict_tta(a, o, ops=[48])


def test_admissible_head_makes_every_prediction_positive_definite(data):
    adj, off, _, norm = data
    torch.manual_seed(0)
    m = _model(norm, admissible=True)
    base = _model(norm)
    with torch.no_grad():
        for mod in (m, base):  # large raw outputs: a plain predictor then returns non-PD stiffness
            last = [x for x in mod.net.predictor.modules() if isinstance(x, torch.nn.Linear)][-1]
            last.weight.mul_(50.0)
        assert m.admissible_fraction() == 1.0
        assert base.admissible_fraction() < 1.0
        mu, _ = m.encode(adj[:8], off[:8])
        np.testing.assert_allclose(m.denormalise(m.predict(mu).double()), m.net.predict_physical(mu), rtol=1e-4)
    # the head's scales are the physical means: raw = 0 predicts them (log-normal mean for logged components)
    head = m.net.stiffness_head
    phys = head(torch.zeros(1, 9, dtype=torch.float64))[0].numpy()
    expect = [np.exp(mu_ + 0.5 * s * s) if lg else mu_ for mu_, s, lg in zip(norm.mean, norm.std, norm.log_mask)]
    np.testing.assert_allclose(phys, expect, rtol=1e-9)


def test_admissible_fraction_is_a_test_metric_and_gradients_flow(data):
    import pytorch_lightning as pl

    adj, off, y, norm = data
    ds = {"adj": adj[:64], "offsets": off[:64], "y": torch.as_tensor(norm.normalize(y[:64]), dtype=torch.float32),
          "index": torch.arange(64)}
    m = _model(norm, admissible=True, tta=True, augment="all")
    out = m(ds["adj"], ds["offsets"])
    m.losses(ds, out)["property"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.net.predictor.parameters())
    from torch.utils.data import DataLoader

    from trussvae.data.datamodule import BatchIndexSampler, DenseBatchDataset

    loader = DataLoader(DenseBatchDataset(**ds), sampler=BatchIndexSampler(64, 32, False), batch_size=None)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(m, train_dataloaders=loader, val_dataloaders=loader)
    res = trainer.test(m, dataloaders=loader, verbose=False)[0]
    assert res["test/property_admissible_fraction"] == 1.0
    assert res["test/property_r2_min"] == res["test/property_r2_min_tta"]
    assert "test/property_r2_min_plain" in res and "test/property_r2_tta_p0" in res
    assert "validity/raw_learned_prior" not in res  # no learned prior here


def test_config_values_are_validated(data):
    _, _, _, norm = data
    for kw, match in [(dict(augment="rotations"), "model.augment"), (dict(augment_prob=1.5), "augment_prob"),
                      (dict(tta="yes"), "model.tta"), (dict(admissible=1), "model.admissible"),
                      (dict(admissible_samples=-1), "admissible_samples"),
                      (dict(prior_components=-1), "prior_components"), (dict(prior_components=2.5), "prior_components"),
                      (dict(prior_fit_samples=0), "prior_fit_samples")]:
        with pytest.raises(ValueError, match=match):
            TrussVAE(**kw)
    with pytest.raises(ValueError, match="data.target=linear"):
        TrussVAE(admissible=True, target="nonlinear", n_properties=13)
    with pytest.raises(ValueError, match="label statistics"):
        TrussVAE(admissible=True)  # no label statistics: the mean normal block is 0
    logged = dict(norm.as_dict(), log_mask=[True] * 9)
    with pytest.raises(ValueError, match="off-diagonal"):
        TrussVAENet(admissible=True, label_mean=logged["mean"], label_std=logged["std"],
                    label_log_mask=logged["log_mask"])
    net = TrussVAENet(d_A=6, d_x=5, d_Ax=2)
    with pytest.raises(ValueError, match="prior must be one of"):
        net.sample_latent(4, "uniform")
    with pytest.raises(ValueError, match="prior_components=0"):
        net.sample_latent(4, "learned")
    with pytest.raises(RuntimeError, match="not been fitted"):
        TrussVAENet(d_A=6, d_x=5, d_Ax=2, prior_components=2).sample_latent(4, "learned")
    with pytest.raises(ValueError, match="linear"):
        from trussvae.models.metrics import admissible_fraction
        admissible_fraction(TrussVAENet(target="nonlinear", n_properties=13), 10)


def test_learned_prior_is_fitted_saved_and_reloaded_by_train(labelled_store, tmp_path):
    from tests.test_train import _cfg, _plain

    from trussvae.models import load_network
    from trussvae.training import train

    cfg = _cfg(labelled_store.root, tmp_path / "run", "logger=none", "model.prior_components=4",
               "model.prior_fit_iterations=20", "model.admissible=true", "model.augment=all", "model.tta=true",
               "model.admissible_samples=5000")
    metrics = train(_plain(cfg))
    assert metrics["test/property_admissible_fraction"] == 1.0
    assert 0.0 <= metrics["validity/raw_learned_prior"] <= metrics["validity/repaired_learned_prior"] <= 1.0
    assert metrics["prior/n_samples"] > 0 and np.isfinite(metrics["prior/log_likelihood"])
    assert metrics["test/property_r2_min_tta"] == metrics["test/property_r2_min"]
    net, info = load_network(metrics["best_checkpoint"])
    assert net.prior is not None and net.prior.fitted and net.prior.n_components == 4 and net.admissible
    z1 = net.sample_latent(16, "learned", generator=torch.Generator().manual_seed(1))
    z2 = net.sample_latent(16, "learned", generator=torch.Generator().manual_seed(1))
    assert torch.equal(z1, z2) and z1.shape == (16, net.latent_dim)
    assert not torch.equal(z1, net.sample_latent(16, "learned", generator=torch.Generator().manual_seed(2)))
    zn = net.sample_latent(16, "normal", generator=torch.Generator().manual_seed(1))
    assert torch.equal(zn, torch.randn(16, net.latent_dim, generator=torch.Generator().manual_seed(1)))

    # refit the prior of the trained checkpoint (train=false refit_prior=true): a copy gets the new prior
    best = metrics["best_checkpoint"]
    before = open(best, "rb").read()
    cfg = _cfg(labelled_store.root, tmp_path / "refit", "logger=none", "train=false", f"ckpt_path={best}",
               "refit_prior=true", "model.prior_components=6", "model.prior_fit_on=mean",
               "model.prior_fit_iterations=20", "model.admissible_samples=5000")
    refit = train(_plain(cfg))
    assert open(best, "rb").read() == before  # the original checkpoint is not changed
    assert refit["best_checkpoint"] != best and refit["best_checkpoint"].startswith(str(tmp_path / "refit"))
    assert refit["prior/components"] == 6 and refit["prior/refit_of"] == str(Path(best).resolve())
    assert 0.0 <= refit["validity/raw_learned_prior"] <= 1.0
    net6, info6 = load_network(refit["best_checkpoint"])
    assert net6.prior.fitted and net6.prior.n_components == 6 and info6["hparams"]["prior_fit_on"] == "mean"
    for name, value in network_state_dict(torch.load(best, weights_only=True)["state_dict"]).items():
        if not name.startswith("prior."):  # the weights are those of the original
            assert torch.equal(net6.state_dict()[name], value), name
    # the run folder's data module serves the trained model (as scripts/prior_study.py reads it): the config as
    # Hydra saves it (interpolations unresolved), the model's normalisation, the training split of the run
    from omegaconf import OmegaConf

    from trussvae.training import run_datamodule

    (tmp_path / "run" / ".hydra").mkdir(parents=True, exist_ok=True)
    (tmp_path / "run" / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    model = TrussVAE.load_from_checkpoint(best, map_location="cpu")
    dm = run_datamodule(tmp_path / "run", model)
    dm.setup("fit")
    assert dm.normalizer is model.normalizer
    assert dm.datasets["train"].tensors["adj"].shape[0] == metrics["data/n_train"]
    with pytest.raises(ValueError, match="set train=false"):
        train(_plain(_cfg(labelled_store.root, tmp_path / "bad", "logger=none", "refit_prior=true")))
    with pytest.raises(ValueError, match="prior_fit_on"):
        train(_plain(_cfg(labelled_store.root, tmp_path / "bad2", "logger=none", "train=false", f"ckpt_path={best}",
                          "refit_prior=true", "model.prior_fit_on=codes")))


def test_prior_fit_on_means_or_posterior_samples():
    torch.manual_seed(0)
    net = TrussVAENet(d_A=6, d_x=5, d_Ax=2, prior_components=1, adj_hidden=[32], feat_hidden=[16],
                      pred_hidden=[32]).eval()
    adj = (torch.rand(300, 351) < 0.1).float()
    offsets = 0.05 * torch.randn(300, 27)
    with torch.no_grad():
        mu, logvar = net.encode(adj, offsets)
    net.fit_prior(adj, offsets, fit_on="mean", n_iter=5)
    cov_mean = net.prior.chol[0] @ net.prior.chol[0].T
    assert torch.allclose(net.prior.means[0], mu.mean(0), atol=1e-5)
    assert torch.allclose(cov_mean, torch.cov(mu.T, correction=0) + 1e-4 * torch.eye(len(mu.T)), atol=1e-4)
    net.fit_prior(adj, offsets, fit_on="sample", n_iter=5)  # wider by the posterior variances
    cov_sample = net.prior.chol[0] @ net.prior.chol[0].T
    extra = torch.diagonal(cov_sample - cov_mean)
    assert torch.allclose(extra.mean(), torch.exp(logvar).mean(), rtol=0.1)
    with pytest.raises(ValueError, match="prior_fit_on must be one of"):
        net.fit_prior(adj, offsets, fit_on="codes")
    with pytest.raises(ValueError, match="prior_fit_on must be one of"):
        TrussVAE(**SMALL, prior_fit_on="codes")


def test_checkpoints_without_the_new_keys_still_load(tmp_path):
    import pytorch_lightning as pl

    from trussvae.models import load_network

    torch.manual_seed(0)
    m = TrussVAE(d_A=6, d_x=5, d_Ax=2)
    h = {k: v for k, v in dict(m.hparams).items()
         if k not in ("augment", "augment_prob", "tta", "admissible", "admissible_samples", "prior_components",
                      "prior_fit_samples", "prior_fit_iterations")}
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": m.state_dict(), "hyper_parameters": h, "pytorch-lightning_version": pl.__version__},
               path)
    net, _ = load_network(path)
    assert net.prior is None and not net.admissible
    assert TrussVAE.load_from_checkpoint(path).net.prior is None
