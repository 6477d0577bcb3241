"""model.curve_baseline=ritz: nonlinear curves predicted relative to the Ritz linear estimate, and
model.curve_features=buckling / buckling2 / redistribution / postbuckling: the (second-order) buckling analysis
(and the struts' load redistribution, and the buckled-strut curve) as inputs of the physics head (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trussvae.data.normalization import fit_normalizer
from trussvae.data.physics import buckling_features, ritz_features
from trussvae.fem.elasticity import LABEL_STRAINS, stiffness_from_orthotropic, youngs_moduli
from trussvae.models import TrussVAE
from trussvae.models.network import ritz_modulus_e3

torch.set_num_threads(1)
SMALL = dict(d_A=6, d_x=5, d_Ax=2, adj_hidden=[32], feat_hidden=[16], pred_hidden=[32], validity_samples=20,
             admissible_samples=0, target="nonlinear", n_properties=13, physics="ritz", curve_baseline="ritz")


@pytest.fixture(scope="module")
def data(store_rows):
    adj_all, off_all, _ = store_rows
    adj, off = adj_all[:48], off_all[:48]
    phys = torch.as_tensor(ritz_features(adj.numpy(), off.numpy()), dtype=torch.float32)
    e3 = youngs_moduli(stiffness_from_orthotropic(phys.double().numpy()))[:, 2]
    rng = np.random.default_rng(0)  # synthetic curves: linear, then buckling to a plateau
    knee = rng.uniform(0.005, 0.1, len(e3))[:, None]
    curves = e3[:, None] * np.minimum(LABEL_STRAINS[None, :], knee + 0.1 * (LABEL_STRAINS[None, :] - knee))
    return adj, off, phys, e3, curves, fit_normalizer(curves, "none")


def _model(norm, **kw):
    torch.manual_seed(0)
    return TrussVAE(**{**SMALL, **kw}, label_mean=norm.mean, label_std=norm.std, label_log_mask=norm.log_mask).eval()


def test_modulus_e3_is_the_inverse_compliance_and_zero_without_a_frame(data):
    _, _, phys, e3, _, _ = data
    np.testing.assert_allclose(ritz_modulus_e3(phys).numpy(), e3, rtol=1e-5)
    # a transversely compliant cell: E3 < C3333 (Poisson coupling), and every estimate is positive
    assert np.all(e3 > 0) and np.all(e3 <= phys[:, 5].double().numpy() * (1 + 1e-6))
    bad = torch.zeros(3, 9)
    bad[1, :6] = torch.tensor([1.0, 2.0, 0.0, 1.0, 0.0, 1.0])  # indefinite normal block (minor < 0)
    bad[2, 0] = float("nan")
    assert ritz_modulus_e3(bad).tolist() == [0.0, 0.0, 0.0]


def test_predictions_are_the_linear_estimate_times_the_learned_ratio(data):
    adj, off, phys, e3, _, norm = data
    m = _model(norm)
    net = m.net
    mu, _ = net.encode(adj, off, phys)
    with torch.no_grad():
        h = net.predictor(torch.cat([mu, torch.asinh(phys / 1e-4)], dim=-1)).double()
        sigma = net.predict_physical(mu, phys)
        np.testing.assert_allclose(sigma.numpy(), (e3[:, None] * LABEL_STRAINS) * np.exp(h.numpy()), rtol=1e-5)
        # predict returns the same stresses, normalised; a bare latent uses the features of its decode
        torch.testing.assert_close(net.denormalise(net.predict(mu, phys).double()), sigma, rtol=1e-4, atol=1e-9)
        torch.testing.assert_close(net.predict(mu), net.predict(mu, net.decoded_features(mu)))
        # a structure that is not a frame (zero features) predicts zero stress, not NaN
        zero = net.predict_physical(mu[:2], torch.zeros(2, 9))
        assert torch.equal(zero, torch.zeros_like(zero))
        # test-time averaging keeps e3 (only axis-2-preserving operations): same features, same anchor
        assert torch.isfinite(net.predict_tta(adj[:4], off[:4], [0, 1, 2])).all()


def test_the_head_learns_the_curve_shape(data):
    """A few optimiser steps on the physics head alone lower the curve error (gradients flow through
    the anchored, normalised output)."""
    adj, off, phys, _, curves, norm = data
    m = _model(norm)
    y = torch.as_tensor(norm.normalize(curves), dtype=torch.float32)
    mu = m.net.encode(adj, off, phys)[0].detach()
    opt = torch.optim.Adam(m.net.predictor.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = ((m.net.predict(mu, phys) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("bad", [dict(target="linear", n_properties=9), dict(physics="none"),
                                 dict(physics_input="encoder"), dict(curve_baseline="fe")])
def test_bad_configurations_name_the_problem(bad):
    with pytest.raises(ValueError, match="curve_baseline"):
        TrussVAE(**{**SMALL, **bad})


# ---------------------------------------------------------------------- model.curve_features=buckling
@pytest.fixture(scope="module")
def buckling(data):
    adj, off, phys, *_ = data
    extra = torch.as_tensor(buckling_features(adj[:12].numpy(), off[:12].numpy()), dtype=torch.float32)
    return torch.cat([phys[:12], extra], dim=1)


def test_buckling_features_enter_the_physics_head(data, buckling):
    adj, off, _, _, _, norm = data
    m = _model(norm, curve_features="buckling")
    net = m.net
    assert net.n_physics_features == 13 and net.predictor.net[0].in_features == net.layout.d + 13
    with torch.no_grad():
        # the network computes the same 13 features itself (Ritz, then buckling), e.g. for decodes in design
        torch.testing.assert_close(net.physics_features(adj[:12], off[:12]), buckling, rtol=1e-5, atol=1e-9)
        mu, _ = net.encode(adj[:12], off[:12], buckling)
        sigma = net.predict_physical(mu, buckling)
        assert torch.isfinite(sigma).all() and (sigma > 0).all()
        # the critical strains change the prediction (they are inputs of the head), the anchor does not move
        moved = buckling.clone()
        moved[:, 10:] *= 0.5
        assert not torch.allclose(net.predict_physical(mu, moved), sigma)
        # test-time averaging passes the invariant buckling columns through the e3-keeping operations
        assert torch.isfinite(net.predict_tta(adj[:4], off[:4], [0, 1, 16], phys=buckling[:4])).all()
        with pytest.raises(ValueError, match="13 physics features"):
            net.predict(mu, buckling[:, :9])


@pytest.mark.parametrize("kind, width, columns", [("buckling2", 17, (13, 14, 15, 16)),
                                                  ("redistribution", 45, (17, 30, 43, 44)),
                                                  ("postbuckling", 71, (17, 44, 45, 58, 70))])
def test_curve_features_beyond_the_first_order_enter_the_physics_head(data, buckling, kind, width, columns):
    """buckling2: + the second-order analysis (4 columns); redistribution: + those and the 28 load-redistribution
    columns (a pinned share, a fixed share, the axial share, the first strut's strain are moved below);
    postbuckling: + those and the 26 buckled-strut secant ratios (a pinned, a fixed one)."""
    adj, off, _, _, _, norm = data
    net = _model(norm, curve_features=kind).net
    assert net.n_physics_features == width and net.predictor.net[0].in_features == net.layout.d + width
    with torch.no_grad():
        feats = net.physics_features(adj[:4], off[:4])
        assert feats.shape == (4, width) and torch.isfinite(feats).all()
        torch.testing.assert_close(feats[:, :13], buckling[:4], rtol=1e-5, atol=1e-9)  # the first-order columns
        if kind != "buckling2":  # shares of the axial energy in the struts past their Euler strain
            assert ((feats[:, 17:43] >= 0) & (feats[:, 17:43] <= 1 + 1e-6)).all()
        if kind == "postbuckling":  # secant ratios of the buckled-strut curve
            assert ((feats[:, 45:] > 0) & (feats[:, 45:] <= 1 + 1e-6)).all()
        mu, _ = net.encode(adj[:4], off[:4], feats)
        sigma = net.predict_physical(mu, feats)
        assert torch.isfinite(sigma).all() and (sigma > 0).all()
        for col in columns:  # each is an input of the head
            moved = feats.clone()
            moved[:, col] = moved[:, col] * 0.5 + 0.3
            assert not torch.allclose(net.predict_physical(mu, moved), sigma), col
        with pytest.raises(ValueError, match=f"{width} physics features"):
            net.predict(mu, feats[:, :width - 1])


def test_symmetry_gather_passes_extra_feature_columns_through(buckling):
    m = _model(fit_normalizer(np.ones((4, 13)), "none"), curve_features="buckling")
    ops = torch.tensor([0, 5, 16, 23] * 3)
    out = m.net.symmetry.orthotropic(buckling, ops)
    torch.testing.assert_close(out[:, 9:], buckling[:, 9:])
    torch.testing.assert_close(out[:, :9], m.net.symmetry.orthotropic(buckling[:, :9], ops))


def test_buckling_features_need_the_curve_baseline():
    with pytest.raises(ValueError, match="curve_features"):
        TrussVAE(**{**SMALL, "curve_baseline": "none", "curve_features": "buckling"})
    with pytest.raises(ValueError, match="curve_features"):
        TrussVAE(**{**SMALL, "curve_features": "eigen"})


def test_curve_nrmse_loss_is_the_squared_per_curve_metric():
    from trussvae.models.evaluation import curve_metrics
    from trussvae.models.losses import curve_nrmse_loss

    rng = np.random.default_rng(1)
    true = np.cumsum(rng.uniform(0, 1e-3, (20, 13)), axis=1)
    pred = true * rng.uniform(0.8, 1.2, true.shape)
    per_curve = np.sqrt(((pred - true) ** 2).mean(1)) / (true.max(1) - true.min(1))
    assert np.isclose(per_curve.mean(), curve_metrics(true, pred)["test/curve_nrmse_mean"])
    loss = curve_nrmse_loss(torch.as_tensor(pred), torch.as_tensor(true))
    assert np.isclose(loss.item(), 13 * (per_curve ** 2).mean())
    mixed = torch.as_tensor(true[:2]).clone()
    mixed[0] = 1e-3                                   # a flat true curve in the batch stays finite
    assert torch.isfinite(curve_nrmse_loss(mixed * 1.1, mixed))


@pytest.mark.parametrize("kind", ["nrmse", "both"])
def test_curve_loss_options_replace_or_add_the_metric_aligned_term(data, kind):
    from trussvae.models.losses import curve_nrmse_loss

    adj, off, phys, _, curves, _ = data
    norm = fit_normalizer(curves, "log")
    y = torch.as_tensor(norm.normalize(curves), dtype=torch.float32)
    batch = {"adj": adj, "offsets": off, "phys": phys, "y": y}
    plain, m = _model(norm), _model(norm, curve_loss=kind)
    out = m(adj, off, phys=phys)
    log_term = plain.losses(batch, out)["property"]
    got = m.losses(batch, out)["property"]
    nrmse = curve_nrmse_loss(m.denormalise(out["y"].double()), torch.as_tensor(curves))
    expect = nrmse + (log_term.double() if kind == "both" else 0.0)
    torch.testing.assert_close(got.double(), expect, rtol=1e-4, atol=1e-7)
    got.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.net.predictor.parameters())


def test_curve_loss_needs_the_nonlinear_target_and_a_known_name(data):
    norm = data[-1]
    with pytest.raises(ValueError, match="model.curve_loss must be one of"):
        _model(norm, curve_loss="l1")
    with pytest.raises(ValueError, match="needs data.target=nonlinear"):
        TrussVAE(d_A=6, d_x=5, d_Ax=2, curve_loss="nrmse")
