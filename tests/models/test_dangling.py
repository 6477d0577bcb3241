"""The dangling-node term: its probability model against the validity rules and Monte Carlo, and its
use in training (``model.w_dangling``)."""

import re

import numpy as np
import pytest
import torch

from trussvae.design_space import octant
from trussvae.design_space.truss_graph import TrussGraph
from trussvae.models import TrussVAE
from trussvae.models.losses import dangling_incidence, expected_dangling, weighted_loss

torch.set_num_threads(1)


def _dangling_images(adj: np.ndarray) -> int:
    """Dangling full-cell node images of an octant adjacency, from the validity rules' own message
    (``"... (k dangling node image(s))"``), 0 when the rule passes."""
    g = TrussGraph.from_edges(octant.TRIU_PAIRS[adj > 0])
    for code, msg in g.violations():
        if code == "dangling":
            return int(re.search(r"\((\d+) dangling node image", msg).group(1))
    return 0


def _random_adjacencies(n, seed=0):
    rng = np.random.default_rng(seed)
    rate = rng.choice([0.01, 0.02, 0.04, 0.08], size=n)
    return (rng.random((n, octant.N_EDGES_CANDIDATE)) < rate[:, None]).astype(float)


def test_incidence_counts_every_strut_image_at_both_ends():
    inc = dangling_incidence().numpy()
    assert inc.shape == (octant.N_FULL_NODES, octant.N_EDGES_CANDIDATE)
    n_images = (octant.STRUT_IMAGES >= 0).sum(1)
    np.testing.assert_array_equal(inc.sum(0), 2 * n_images)      # each image strut has two ends
    assert set(np.unique(inc)) <= {0.0, 1.0, 2.0, 4.0, 8.0}   # mirror images meeting at the node
    # a node with no strut of contribution 1 (e.g. the cell corner: every strut there has a mirror
    # image) can never dangle; most nodes can
    can = (inc == 1).sum(1) > 0
    assert 0 < (~can).sum() < can.sum()


def test_hard_probabilities_count_the_dangling_nodes_of_the_validity_rules():
    adj = _random_adjacencies(400)
    expect = np.array([_dangling_images(a) for a in adj])
    assert (expect > 0).sum() > 50 and (expect == 0).sum() > 20      # both cases are exercised
    logits = torch.as_tensor(np.where(adj > 0, 40.0, -40.0))
    np.testing.assert_allclose(expected_dangling(logits).numpy(), expect, atol=1e-6)
    np.testing.assert_allclose(expected_dangling(logits.float()).numpy(), expect, atol=1e-4)


def test_soft_probabilities_match_monte_carlo():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, octant.N_EDGES_CANDIDATE, generator=g, dtype=torch.float64) * 2.0 - 4.0
    inc = dangling_incidence().double().numpy()
    rng = np.random.default_rng(0)
    expect = expected_dangling(logits).numpy()
    for k in range(3):
        p = torch.sigmoid(logits[k]).numpy()
        draws = (rng.random((100_000, octant.N_EDGES_CANDIDATE)) < p).astype(float)
        counts = ((draws @ inc.T) == 1).sum(1)       # degree exactly 1 = dangling (active: degree >= 1)
        se = counts.std() / np.sqrt(len(counts))
        assert abs(counts.mean() - expect[k]) < 5 * se


def test_gradient_is_finite_and_lowers_the_term():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, octant.N_EDGES_CANDIDATE, generator=g) * 6.0 - 4.0).requires_grad_()
    d0 = expected_dangling(logits).sum()
    d0.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with torch.no_grad():
        d1 = expected_dangling(logits - 1e-2 * logits.grad).sum()
    assert d1 < d0


def test_confident_logits_stay_a_probability():
    """Regression (reference_2h_v2 diverged): a decode with one very confident strut and a node whose struts
    are all far less likely gave P >> 1 for that node; the term is an expected count of at most 64 nodes and
    matches a direct float64 evaluation at any logits, with finite gradients."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(16, octant.N_EDGES_CANDIDATE, generator=g, dtype=torch.float64) * 30.0 - 60.0
    logits[:, 0] = 200.0                                  # one confident strut far above all others
    logits[8:, 5] = 150.0
    p = torch.sigmoid(logits).numpy()
    inc = dangling_incidence().double().numpy()
    # P(node degree exactly 1) = sum over contribution-1 struts e of p_e prod_{f at v, f != e} (1 - p_f)
    expect = np.zeros(len(p))
    for v in range(inc.shape[0]):
        at = np.nonzero(inc[v] > 0)[0]
        for e in np.nonzero(inc[v] == 1)[0]:
            others = at[at != e]
            expect += p[:, e] * np.prod(1.0 - p[:, others], axis=1)
    for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
        x = logits.detach().to(dtype).clone().requires_grad_()
        d = expected_dangling(x)
        assert (d <= octant.N_FULL_NODES).all()
        np.testing.assert_allclose(d.detach().double().numpy(), expect, atol=tol)
        d.sum().backward()
        assert torch.isfinite(x.grad).all()


def test_training_term_is_logged_weighted_and_validated():
    m = TrussVAE(d_A=6, d_x=5, d_Ax=2, w_dangling=2.0, dangling_samples=32)
    g = torch.Generator().manual_seed(0)
    b = {"adj": (torch.rand(16, 351, generator=g) < 0.05).float(), "offsets": torch.zeros(16, 27),
         "y": torch.randn(16, 9, generator=g), "index": torch.arange(16)}
    parts = m.losses(b, m(b["adj"], b["offsets"]))
    assert "dangling" in parts and parts["dangling"] > 0
    base = weighted_loss({k: v for k, v in parts.items() if k != "dangling"}, 1.0, 1.0, 1.0)
    total = weighted_loss(parts, 1.0, 1.0, 1.0, 0.0, 2.0)
    assert total.item() == pytest.approx((base + 2.0 * parts["dangling"]).item())
    assert "dangling" not in TrussVAE(d_A=6, d_x=5, d_Ax=2).losses(b, m(b["adj"], b["offsets"]))
    # only the decoder sees it: a few steps on the term alone lower it at fresh prior samples
    torch.manual_seed(0)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    before = m.prior_dangling(512).item()
    for _ in range(20):
        opt.zero_grad()
        m.prior_dangling().backward()
        opt.step()
    assert m.prior_dangling(512).item() < 0.5 * before
    for bad in [-1.0, True, "x"]:
        with pytest.raises(ValueError, match="w_dangling"):
            TrussVAE(w_dangling=bad)
    with pytest.raises(ValueError, match="dangling_samples"):
        TrussVAE(dangling_samples=0)
    with pytest.raises(ValueError, match="dangling_on"):
        TrussVAE(dangling_on="posterior")


def test_dangling_on_both_adds_the_batch_reconstructions():
    g = torch.Generator().manual_seed(1)
    b = {"adj": (torch.rand(16, 351, generator=g) < 0.05).float(), "offsets": torch.zeros(16, 27),
         "y": torch.randn(16, 9, generator=g), "index": torch.arange(16)}
    prior = TrussVAE(d_A=6, d_x=5, d_Ax=2, w_dangling=1.0, dangling_samples=64)
    both = TrussVAE(d_A=6, d_x=5, d_Ax=2, w_dangling=1.0, dangling_samples=64, dangling_on="both")
    both.load_state_dict(prior.state_dict())
    out = prior(b["adj"], b["offsets"], sample=False)
    torch.manual_seed(5)
    d_prior = prior.losses(b, out)["dangling"]
    torch.manual_seed(5)  # the same prior draws
    d_both = both.losses(b, out)["dangling"]
    expect = d_prior + expected_dangling(out["adj_logits"]).mean()
    assert d_both.item() == pytest.approx(expect.item(), rel=1e-6)
