"""Inverse design and latent exploration machinery, on a small random (untrained) VAE.

Model quality is not tested here (see tests/test_train.py and docs/model.md); these tests check
the mechanics: gradients through decode -> threshold -> encode, FE verification and ranking,
outputs and their contracts.
"""

import json

import numpy as np
import pytest
import torch

from trussvae.design.inverse import InverseDesignConfig, orthotropic_to_voigt, run_inverse_design
from trussvae.design.latent import evaluate_path, interpolate, sample_neighbourhood, sample_prior, slerp, traverse_axis
from trussvae.design.targets import named_target, objective_from_spec, quantity
from trussvae.design_space import TrussGraph
from trussvae.fem import homogenize
from trussvae.fem.elasticity import stiffness_from_orthotropic
from trussvae.generation import generate_structures
from trussvae.generation.generator import graph_to_arrays
from trussvae.models import TrussVAE


@pytest.fixture(scope="module")
def train_set():
    graphs = generate_structures(60, seed=11, chunk_size=60)
    adj, off = zip(*(graph_to_arrays(g) for g in graphs))
    C = np.array([homogenize(g.to_frame(relative_density=0.15)) for g in graphs])
    return np.array(adj, dtype=np.float32), np.array(off), C, graphs


@pytest.fixture(scope="module")
def model(train_set):
    """A small VAE overfitted for a few hundred steps on the 60 structures (no KL), so that it decodes trusses."""
    torch.manual_seed(0)
    adj, off, C, _ = train_set
    y = np.array([[c[a, b] for a, b in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))]
                  for c in C])
    m = TrussVAE(d_A=6, d_x=6, d_Ax=2, label_mean=y.mean(0).tolist(), label_std=(y.std(0) + 1e-9).tolist(),
                 label_log_mask=[False] * 9, validity_samples=10)
    batch = {"adj": torch.tensor(adj), "offsets": torch.tensor(off, dtype=torch.float32)}
    batch["y"] = m.normalise(torch.tensor(y, dtype=torch.float32))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(300):
        parts = m.losses(batch, m(batch["adj"], batch["offsets"], sample=False))
        opt.zero_grad()
        (parts["adjacency"] + parts["features"] + parts["property"]).backward()
        opt.step()
    return m.eval()


def test_orthotropic_to_voigt_matches_numpy():
    v = np.random.default_rng(0).random((4, 9))
    np.testing.assert_allclose(orthotropic_to_voigt(torch.tensor(v)).numpy(), stiffness_from_orthotropic(v))


def test_slerp_endpoints_and_norm():
    z1, z2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    z = slerp(z1, z2, torch.linspace(0, 1, 5))
    torch.testing.assert_close(z[0], z1)
    torch.testing.assert_close(z[-1], z2)
    assert float(z[2].norm()) > float(((z1 + z2) / 2).norm())  # on the arc, not the chord


def test_inverse_design_ranks_by_fe_and_reports_training_best(model, train_set):
    adj, off, C, _ = train_set
    obj = named_target("auxetic")
    res = run_inverse_design(model, obj, adj, off, C, InverseDesignConfig(n_starts=8, n_steps=6, eval_every=2),
                             progress=False)
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
    with pytest.raises(ValueError, match="slerp"):
        interpolate(model, graphs[0], graphs[1], method="cubic")


@pytest.fixture
def run_mod(model, train_set, monkeypatch):
    """trussvae.design.run with the small model and training set in place of checkpoint and data set."""
    from trussvae.design import run

    adj, off, C, graphs = train_set
    hashes = np.array([g.canonical_hash() for g in graphs])
    monkeypatch.setattr(run, "load_training_set", lambda *a, **k: (adj, off, C, hashes))
    monkeypatch.setattr(TrussVAE, "load_from_checkpoint", classmethod(lambda cls, *a, **k: model))
    return run


def test_design_run_writes_contract_outputs(run_mod, train_set, tmp_path):
    C = train_set[2]
    obj = named_target("stiff")
    res = run_mod.design_run("unused.ckpt", "unused", obj, tmp_path, InverseDesignConfig(n_starts=5, n_steps=4,
                             eval_every=2, polish_top=1, polish_steps=2), n_stl=1, tessellation=(1, 1, 1),
                             progress=False, export_abaqus=True)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["target"] == "stiff" and saved["best_training_value"] == pytest.approx(quantity("E22", C).max())
    first = saved["candidates"][0]
    for key in ("fe_value", "predicted_value", "moduli", "json", "stl"):
        assert key in first
    assert first["moduli"]["E22"] == pytest.approx(first["fe_value"])
    from trussvae.fem import homogenize
    from trussvae.fem.abaqus import frame_from_abaqus

    np.testing.assert_allclose(homogenize(frame_from_abaqus(first["abaqus"])), first["fe"]["stiffness_voigt"] if "fe" in
                               first else json.loads(open(first["json"]).read())["fe"]["stiffness_voigt"], rtol=1e-7,
                               atol=1e-10)
    assert (tmp_path / "report.md").is_file() and (tmp_path / "optimisation_path.png").is_file()
    values = [c["fe_value"] for c in saved["candidates"]]
    assert values == sorted(values, reverse=True)
    assert res["n_candidates"] == len(saved["candidates"])


def test_polish_and_evolve_candidates_carry_their_own_prediction(model, run_mod, tmp_path):
    from trussvae.design.inverse import _predict_props

    obj = named_target("stiff")
    cfg = InverseDesignConfig(n_starts=5, n_steps=4, eval_every=2, polish_top=2, polish_steps=3,
                              evolve_generations=3, evolve_population=10, evolve_offspring=6)
    run_mod.design_run("unused.ckpt", "unused", obj, tmp_path, cfg, n_stl=1, tessellation=(1, 1, 1), progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    evo = saved["evolution"]
    assert evo["generations"] == 3 and evo["fe_evaluations"] <= 3 * 6
    assert evo["best_value"] >= evo["seed_best_value"] and saved["best_fe_value"] >= evo["best_value"] - 1e-12
    origins = {c["origin"] for c in saved["candidates"]}
    assert origins <= {"latent", "evolve"} and "latent" in origins
    assert any(c["polished_from"] is not None for c in saved["candidates"])
    assert "evolution (FE only)" in (tmp_path / "report.md").read_text()
    for c in saved["candidates"]:
        record = json.loads(open(c["json"]).read())
        g = TrussGraph.from_dict(record["truss_graph"])
        a, o = g.to_vae_input("offsets")
        with torch.no_grad():
            p = _predict_props(model, obj, torch.tensor(a[None]), torch.tensor(o[None])).numpy()[0]
        assert c["predicted_value"] == pytest.approx(float(obj.value(p)), rel=1e-5)  # at the final truss
        if c["origin"] == "evolve":
            assert c["start"] == -1 and c["polished_from"] is None
