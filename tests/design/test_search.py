"""The latent search and the inverse design stages, on a small overfitted VAE.

Model quality is not tested here (see tests/test_train.py and docs/model.md); these tests check
the mechanics: gradients through decode -> threshold -> encode, FE verification and ranking,
outputs and their contracts.
"""

import numpy as np
import pytest
import torch

from trussvae.design.evaluate import Evaluator
from trussvae.design.inverse import InverseDesignConfig, run_inverse_design
from trussvae.design.search import SearchConfig, latent_search, orthotropic_to_voigt, verify
from trussvae.design.targets import named_target, objective_from_spec, quantity
from trussvae.design_space import TrussGraph
from trussvae.fem import homogenize
from trussvae.fem.elasticity import stiffness_from_orthotropic


def test_orthotropic_to_voigt_matches_numpy():
    v = np.random.default_rng(0).random((4, 9))
    np.testing.assert_allclose(orthotropic_to_voigt(torch.tensor(v)).numpy(), stiffness_from_orthotropic(v))


def test_inverse_design_ranks_by_fe_and_reports_training_best(model, train_set):
    adj, off, C, _ = train_set
    obj = named_target("auxetic")
    cfg = InverseDesignConfig(SearchConfig(n_starts=8, n_steps=6, eval_every=2))
    res = run_inverse_design(model, obj, adj, off, C, cfg, progress=False)
    nu = quantity("nu21", C)
    assert res.best_training_value == pytest.approx(nu.min())
    assert len(res.start_indices) == 8 and set(res.start_indices) == set(np.argsort(nu)[:8])
    assert res.predicted_path.shape == (7, 8)
    assert res.candidates, "some decoded trusses must be valid or repairable"
    fe = [k.fe_value for k in res.candidates]
    assert fe == sorted(fe)  # ranked by the FE value, best (most negative) first
    k = res.candidates[0]
    assert k.graph.validate() == []
    np.testing.assert_allclose(k.fe_props, homogenize(k.graph.to_frame(relative_density=0.15)), rtol=1e-9)


def test_latent_gradient_flows_through_threshold(model):
    z = torch.zeros(3, model.latent_dim, requires_grad=True)
    prob, off = model.decode(z)
    adj = (prob > 0.5).float() + prob - prob.detach()
    mu, _ = model.encode(adj, off)
    model.predict(mu).sum().backward()
    assert z.grad.abs().sum() > 0


def test_wrong_model_kind_is_refused(model, train_set):
    adj, off, C, _ = train_set
    curve = objective_from_spec({"name": "curve", "mode": "explicit", "values": list(np.linspace(0, 1e-3, 13))})
    with pytest.raises(ValueError, match="data.target=nonlinear"):
        run_inverse_design(model, curve, adj, off, np.zeros((len(adj), 13)), progress=False)


def test_search_starts_from_the_best_feasible_training_structures(model, train_set):
    adj, off, C, _ = train_set
    E11 = quantity("E11", C)
    bar = float(np.quantile(E11, 0.7))  # 30% of the training set is feasible
    obj = objective_from_spec({"name": "stiff", "constraints": [{"quantity": "E11", "lower": bar}]})
    res = latent_search(model, Evaluator(obj), adj, off, C, SearchConfig(n_starts=100, n_steps=1), progress=False)
    feasible = np.flatnonzero(E11 >= bar)
    assert sorted(res.start_indices) == sorted(feasible)  # only the feasible ones, all of them
    e22 = quantity("E22", C)
    assert list(res.start_indices) == sorted(feasible, key=lambda i: -e22[i])  # best (largest E22) first
    assert res.best_training_value == pytest.approx(e22[feasible].max())
    with pytest.raises(ValueError, match="no training structure satisfies"):
        impossible = objective_from_spec({"name": "stiff", "constraints": [{"quantity": "E11", "lower": 1.0}]})
        latent_search(model, Evaluator(impossible), adj, off, C, SearchConfig(n_steps=1), progress=False)


def test_verify_drops_duplicates_and_ranks_by_fe(model, train_set):
    _, _, C, graphs = train_set
    obj = named_target("stiff")
    found = [(graphs[0], 0, 0), (graphs[1], 1, 0), (TrussGraph.from_dict(graphs[0].to_dict()), 2, 2), (graphs[2], 3, 2)]
    ev = Evaluator(obj)
    cands, fe_path = verify(model, ev, found)
    assert len(cands) == 3 and ev.n_fe_runs == 3  # graphs[0] twice: one design, one FE run
    assert [k.fe_value for k in cands] == sorted((quantity("E22", C[i]) for i in range(3)), reverse=True)
    assert sorted(s for _, s, _ in fe_path) == [0, 1, 3]


def test_design_with_a_plain_network_module(model, plain_model, train_set):
    """Design uses only the network interface (encode/decode/predict/...), not Lightning: a plain
    nn.Module exposing just that gives the same designs."""
    adj, off, C, _ = train_set
    cfg = InverseDesignConfig.from_dict({"search": {"n_starts": 4, "n_steps": 4, "eval_every": 2},
                                         "polish": {"top": 1, "steps": 2}, "evolve": {"generations": 1,
                                         "population": 6, "offspring": 4}})
    obj = named_target("stiff")
    plain = run_inverse_design(plain_model, obj, adj, off, C, cfg, progress=False)
    full = run_inverse_design(model, obj, adj, off, C, cfg, progress=False)
    assert [k.graph.canonical_hash() for k in plain.candidates] == [k.graph.canonical_hash() for k in full.candidates]
    assert [k.predicted_value for k in plain.candidates] == pytest.approx([k.predicted_value for k in full.candidates])
    np.testing.assert_allclose(plain.predicted_path, full.predicted_path, rtol=1e-6)


@pytest.mark.parametrize("where,gradient", [("predictor", "chain"), ("predictor", "latent"), ("encoder", "chain")])
def test_design_with_a_physics_model_predicts_with_each_decodes_features(overfit_vae, train_set, where, gradient):
    """model.physics=ritz: the latent search ranks every decode with the Ritz features of that decode
    (computed inside the network), and the reported predictions are the network's for those trusses."""
    from trussvae.data.physics import ritz_features
    from trussvae.design.search import predicted_properties

    adj, off, C, _ = train_set
    y = np.array([[c[a, b] for a, b in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))]
                  for c in C])
    m = overfit_vae(adj, off, y, 150, physics="ritz", physics_input=where)
    cfg = InverseDesignConfig.from_dict({"search": {"n_starts": 4, "n_steps": 4, "eval_every": 2,
                                                    "gradient": gradient},
                                         "polish": {"top": 0}, "evolve": {"generations": 0}})
    res = run_inverse_design(m, named_target("stiff"), adj, off, C, cfg, progress=False)
    assert res.candidates
    graphs = [k.graph for k in res.candidates]
    arrays = [g.to_vae_input("offsets") for g in graphs]
    a = torch.as_tensor(np.array([x for x, _ in arrays]))
    o = torch.as_tensor(np.array([x for _, x in arrays]))
    phys = torch.as_tensor(ritz_features(a.numpy(), o.numpy()), dtype=torch.float32)
    with torch.no_grad():
        _, y_norm = m.net.predict_inputs(a, o, phys)
    expect = m.denormalise(y_norm).numpy()
    got = predicted_properties(m.net, named_target("stiff"), graphs)
    np.testing.assert_allclose(got[:, 1, 1], expect[:, 3], rtol=1e-4)


def test_search_gradient_option_and_straight_through():
    """The straight-through combination: the value of one tensor, the gradient of the other."""
    from trussvae.design.search import _straight_through

    v, g = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 5.0], requires_grad=True)
    out = _straight_through(v * 2, g * g)
    out.sum().backward()
    assert torch.equal(out.detach(), torch.tensor([2.0, 4.0])) and v.grad is None
    assert torch.equal(g.grad, torch.tensor([6.0, 10.0]))
    with pytest.raises(ValueError, match="gradient"):
        SearchConfig(gradient="auto")
