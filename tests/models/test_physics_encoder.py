"""model.physics=ritz: the Rayleigh-Ritz stiffness estimate as a predictor or encoder input (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trussvae.data.normalization import fit_normalizer
from trussvae.data.physics import ritz_features
from trussvae.models import TrussVAE, TrussVAENet

torch.set_num_threads(1)
SMALL = dict(d_A=6, d_x=5, d_Ax=2, adj_hidden=[32], feat_hidden=[16], pred_hidden=[32], physics_hidden=[16],
             validity_samples=20, admissible_samples=2000)


@pytest.fixture(scope="module")
def data(store_rows):
    adj_all, off_all, y = store_rows
    adj, off = adj_all[:64], off_all[:64]
    phys = torch.as_tensor(ritz_features(adj.numpy(), off.numpy()), dtype=torch.float32)
    return adj, off, phys, y[:64], fit_normalizer(y, "none")


def _model(norm, **kw):
    torch.manual_seed(0)
    m = TrussVAE(**{**SMALL, "physics": "ritz", **kw}, label_mean=norm.mean, label_std=norm.std,
                 label_log_mask=norm.log_mask)
    if m.net.phys_encoder is not None:
        for p in m.net.phys_encoder.parameters():  # as after training: the features move the latent
            torch.nn.init.normal_(p, std=0.3)
    return m.eval()


def test_predictor_input_uses_the_structures_features(data):
    adj, off, phys, _, norm = data
    m = _model(norm)  # physics_input="predictor" (default)
    net = m.net
    assert net.phys_encoder is None and net.predictor.net[0].in_features == net.latent_dim + 9
    mu, y = net.predict_inputs(adj, off, phys)
    mu2, y2 = net.predict_inputs(adj, off)  # computed when not given
    torch.testing.assert_close(mu2, mu)
    torch.testing.assert_close(y2, y)
    # the latent does not see the features; the prediction does
    torch.testing.assert_close(net.encode(adj, off, phys * 2.0)[0], mu)
    assert not torch.allclose(net.predict(mu, phys * 2.0), y)
    # a bare latent predicts the properties of the structure it decodes to
    with torch.no_grad():
        torch.testing.assert_close(net.predict(mu), net.predict(mu, net.decoded_features(mu)))
        torch.testing.assert_close(net.predict_physical(mu, phys).float(), net.denormalise(y), rtol=1e-4,
                                   atol=1e-7)
    out = net(adj, off, sample=False)
    torch.testing.assert_close(out["y"], y)
    ops = [0, 5, 17, 40]
    torch.testing.assert_close(net.predict_tta(adj[:8], off[:8], ops, phys=phys[:8]),
                               net.predict_tta(adj[:8], off[:8], ops))


def test_predictor_mode_trains_a_latent_only_head_beside_the_physics_head(data):
    adj, off, phys, y, norm = data
    m = _model(norm)
    net = m.net
    assert net.latent_predictor is not None and net.latent_predictor.net[0].in_features == net.latent_dim
    m.train()
    batch = {"adj": adj, "offsets": off, "phys": phys, "y": torch.as_tensor(norm.normalize(y), dtype=torch.float32)}
    out = m(batch["adj"], batch["offsets"], sample=False, phys=phys)
    parts = m.losses(batch, out)
    torch.testing.assert_close(out["y_latent"], net.predict_latent(out["mu"]))
    assert torch.isclose(parts["property_latent"], ((out["y_latent"] - batch["y"]) ** 2).sum(-1).mean())
    from trussvae.models.losses import weighted_loss

    total = weighted_loss(parts, 1.0, 1.0, 2.0)
    without = weighted_loss({k: v for k, v in parts.items() if k != "property_latent"}, 1.0, 1.0, 2.0)
    assert torch.isclose(total - without, 2.0 * parts["property_latent"])
    total.backward()
    assert net.latent_predictor.net[0].weight.grad.abs().sum() > 0
    # the physics head learns on the detached latent: it sends no gradient into the encoder
    m.zero_grad()
    out = m(batch["adj"], batch["offsets"], sample=False, phys=phys)
    out["y"].square().sum().backward()
    assert net.predictor.net[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in net.adj_encoder.parameters())
    # the latent head needs nothing but the latent; the encoder mode and the plain model have none
    assert _model(norm, physics_input="encoder").net.latent_predictor is None
    plain = TrussVAENet(d_A=6, d_x=5, d_Ax=2)
    mu = torch.zeros(2, plain.latent_dim)
    torch.testing.assert_close(plain.predict_latent(mu), plain.predict(mu))


def test_encode_computes_the_features_it_is_not_given(data):
    adj, off, phys, _, norm = data
    m = _model(norm, physics_input="encoder")
    mu_given, lv_given = m.encode(adj, off, phys)
    mu_own, lv_own = m.encode(adj, off)
    torch.testing.assert_close(mu_own, mu_given)
    torch.testing.assert_close(lv_own, lv_given)
    # the features matter: other features, other latent
    assert not torch.allclose(m.encode(adj, off, phys * 2.0)[0], mu_given)
    # the plain model has no physics branch and ignores no input
    plain = TrussVAENet(**{k: v for k, v in SMALL.items() if k in ("d_A", "d_x", "d_Ax")})
    assert plain.phys_encoder is None


def test_new_physics_branch_starts_as_the_plain_model(data):
    adj, off, phys, _, norm = data
    torch.manual_seed(0)
    m = TrussVAE(**{**SMALL, "physics": "ritz", "physics_input": "encoder"}, label_mean=norm.mean, label_std=norm.std)
    mu, _ = m.encode(adj, off, phys)
    torch.testing.assert_close(mu, m.encode(adj, off, torch.zeros_like(phys))[0])


def test_augmentation_and_tta_transform_the_features_like_labels(data):
    adj, off, phys, y, norm = data
    m = _model(norm, augment="all", physics_input="encoder")
    batch = {"adj": adj[:8], "offsets": off[:8], "phys": phys[:8],
             "y": torch.as_tensor(norm.normalize(y[:8]), dtype=torch.float32)}
    torch.manual_seed(4)
    out = m.augment_batch(batch)
    assert len(set(out["op"].tolist())) > 1
    recomputed = ritz_features(out["adj"].numpy(), out["offsets"].double().numpy())
    np.testing.assert_allclose(out["phys"].numpy(), recomputed, rtol=1e-5, atol=1e-9)
    ops = [0, 5, 17, 40]
    torch.testing.assert_close(m.net.predict_tta(adj[:8], off[:8], ops, phys=phys[:8]),
                               m.net.predict_tta(adj[:8], off[:8], ops))


@pytest.mark.parametrize("where", ["predictor", "encoder"])
def test_training_step_uses_the_batch_features_and_learns_the_branch(data, where):
    adj, off, phys, y, norm = data
    m = _model(norm, physics_input=where)
    m.train()
    batch = {"adj": adj, "offsets": off, "phys": phys, "y": torch.as_tensor(norm.normalize(y), dtype=torch.float32)}
    loss, out = m._step(batch, "train", 0.1)
    loss.backward()
    if where == "encoder":
        assert m.net.phys_encoder[-1].weight.grad.abs().sum() > 0
    else:
        d = m.net.latent_dim
        assert m.net.predictor.net[0].weight.grad[:, d:].abs().sum() > 0
    with pytest.raises(ValueError, match="physics"):
        TrussVAE(**{**SMALL, "physics": "fe"})
    with pytest.raises(ValueError, match="physics_input"):
        TrussVAE(**{**SMALL, "physics": "ritz", "physics_input": "decoder"})


def test_train_and_test_only_with_physics(labelled_store, tmp_path):
    from tests.test_train import _cfg, _plain

    from trussvae.models import load_network
    from trussvae.training import train

    cfg = _plain(_cfg(labelled_store.root, tmp_path / "run", "logger=none", "model.physics=ritz",
                      "model.physics_hops=1", "model.prior_components=2", "model.admissible_samples=500"))
    assert cfg["data"]["physics"] == "ritz" and cfg["data"]["physics_hops"] == 1
    metrics = train(cfg)
    assert np.isfinite(metrics["test/property_r2_min"])
    assert (labelled_store.root / "features" / "ritz_h1.npz").is_file()
    net, _ = load_network(metrics["best_checkpoint"])
    assert net.physics == "ritz" and net.physics_hops == 1 and net.physics_fe["relative_density"] == 0.15
    # test-only: the data module follows the checkpoint's physics, whatever the config says
    again = _plain(_cfg(labelled_store.root, tmp_path / "eval", "logger=none", "train=false",
                        f"ckpt_path={metrics['best_checkpoint']}", "model.admissible_samples=500"))
    assert again["data"]["physics"] == "none"
    m2 = train(again)
    assert m2["test/property_r2_min"] == pytest.approx(metrics["test/property_r2_min"], abs=1e-5)
    bad = _plain(_cfg(labelled_store.root, tmp_path / "bad", "logger=none", "model.physics=ritz",
                      "data.physics=none"))
    with pytest.raises(ValueError, match="physics"):
        train(bad)
