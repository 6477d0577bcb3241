"""A design run (trussvae.design.run, design.py): outputs, FE settings of the data set, configuration."""

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from trussvae.design.inverse import RENAMED_KEYS, InverseDesignConfig, renamed_key_message
from trussvae.design.search import predict_props
from trussvae.design.targets import CurveObjective, named_target, quantity
from trussvae.design_space import TrussGraph
from trussvae.fem.settings import LinearFESettings, NonlinearFESettings

ROOT = Path(__file__).resolve().parents[2]
CUSTOM_LINEAR = dict(relative_density=0.12, E_s=2.0, nu_s=0.25, beam="euler_bernoulli")
CUSTOM_NONLINEAR = dict(relative_density=0.12, E_s=2.0, nu_s=0.25, beam="euler_bernoulli", max_strain=0.3,
                        confined=True, imperfection=2e-3, seed=5, time_limit=30.0)


def _small(**parts) -> InverseDesignConfig:
    return InverseDesignConfig.from_dict({"search": {"n_starts": 5, "n_steps": 4, "eval_every": 2}, **parts})


def test_design_run_writes_contract_outputs(run_mod, train_set, tmp_path):
    C = train_set[2]
    obj = named_target("stiff")
    res = run_mod.design_run("unused.ckpt", "unused", obj, tmp_path, _small(polish={"top": 1, "steps": 2}), n_stl=1,
                             tessellation=(1, 1, 1), progress=False, export_abaqus=True)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["target"] == "stiff" and saved["best_training_value"] == pytest.approx(quantity("E22", C).max())
    first = saved["candidates"][0]
    for key in ("fe_value", "predicted_value", "moduli", "json", "stl"):
        assert key in first
    assert first["moduli"]["E22"] == pytest.approx(first["fe_value"])
    from trussvae.fem import homogenize
    from trussvae.fem.abaqus import frame_from_abaqus

    fe_stiffness = json.loads(Path(first["json"]).read_text())["fe"]["stiffness_voigt"]
    np.testing.assert_allclose(homogenize(frame_from_abaqus(first["abaqus"])), fe_stiffness, rtol=1e-7, atol=1e-10)
    assert (tmp_path / "report.md").is_file() and (tmp_path / "optimisation_path.png").is_file()
    values = [c["fe_value"] for c in saved["candidates"]]
    assert values == sorted(values, reverse=True)
    assert res["n_candidates"] == len(saved["candidates"])
    assert saved["fe"] == LinearFESettings().as_dict()
    assert saved["config"]["search"]["n_starts"] == 5 and saved["config"]["polish"]["top"] == 1
    assert saved["best_latent_value"] is not None and saved["best_fe_value"] >= saved["best_latent_value"] - 1e-12
    html = (tmp_path / "report.html").read_text()  # the interactive report beside report.md
    assert "Optimisation path in property space" in html and "Candidate #0" in html and "<script src=" not in html
    assert "report.html" in (tmp_path / "report.md").read_text()


def test_polish_and_evolve_candidates_carry_their_own_prediction(model, run_mod, tmp_path):
    obj = named_target("stiff")
    cfg = _small(polish={"top": 2, "steps": 3}, evolve={"generations": 3, "population": 10, "offspring": 6})
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
            p = predict_props(model, obj, torch.tensor(a[None]), torch.tensor(o[None])).numpy()[0]
        assert c["predicted_value"] == pytest.approx(float(obj.value(p)), rel=1e-5)  # at the final truss
        if c["origin"] == "evolve":
            assert c["start"] == -1 and c["polished_from"] is None


@pytest.fixture(scope="module")
def custom_store(tmp_path_factory):
    """12 structures labelled with non-default linear and nonlinear FE settings (recorded in meta.json)."""
    from trussvae.generation import build_dataset
    from trussvae.generation.label import label_dataset

    store = build_dataset(tmp_path_factory.mktemp("custom") / "ds", 12, seed=2, chunk_size=12, scheduler="sync",
                          progress=False)
    label_dataset(store, LinearFESettings(**CUSTOM_LINEAR), scheduler="sync", progress=False)
    label_dataset(store, NonlinearFESettings(**CUSTOM_NONLINEAR), scheduler="sync", progress=False)
    return store


def test_training_set_carries_the_data_sets_fe_settings(custom_store):
    from trussvae.design.run import load_training_set

    lin = load_training_set(custom_store.root, "linear")
    assert lin.fe == LinearFESettings(**CUSTOM_LINEAR) and lin.fe != LinearFESettings()
    nl = load_training_set(custom_store.root, "nonlinear")
    assert nl.fe == NonlinearFESettings(**CUSTOM_NONLINEAR) and nl.fe != NonlinearFESettings()
    assert nl.props.shape[1:] == (13,) and len(nl.props) == len(nl.adjacency) > 0


def test_data_set_without_recorded_fe_settings_is_refused(labelled_store):
    from trussvae.design.run import load_training_set

    assert "linear" not in (labelled_store.meta.get("labels") or {})  # labels written without meta
    with pytest.raises(ValueError, match=r"labels\.linear\.fe"):
        load_training_set(labelled_store.root, "linear")


@pytest.mark.parametrize("physics", [{}, {"physics": "ritz", "physics_hops": 1, "curve_baseline": "ritz",
                                         "curve_features": "buckling", "curve_fe": CUSTOM_NONLINEAR}],
                         ids=["plain", "buckling"])
def test_curve_design_is_verified_with_the_data_sets_nonlinear_settings(custom_store, overfit_vae, tmp_path,
                                                                        monkeypatch, physics):
    """A curve design run verifies every candidate with exactly the settings of the data set's
    nonlinear labels (all of them, issue 13), not the defaults; a model with the buckling features
    predicts each candidate with the features of its own decode."""
    from trussvae.design import run
    from trussvae.design.evaluate import fe_properties

    s, labels = custom_store.load_structures(), custom_store.load_labels("nonlinear")
    ok = labels["ok"].astype(bool)
    model = overfit_vae(s["adjacency"][ok].astype(np.float32), s["offsets"][ok], labels["stress"][ok], steps=150,
                        target="nonlinear", n_properties=13, **physics)
    monkeypatch.setattr(run, "load_model", lambda *a, **k: model)
    obj = CurveObjective("curve", tuple(1.1 * labels["stress"][ok][0]))
    res = run.design_run("unused.ckpt", custom_store.root, obj, tmp_path,
                         InverseDesignConfig.from_dict({"search": {"n_starts": 2, "n_steps": 2, "eval_every": 2}}),
                         n_stl=0, progress=False)
    custom = NonlinearFESettings(**CUSTOM_NONLINEAR)
    assert res["fe"] == custom.as_dict() and res["candidates"]
    for c in res["candidates"][:2]:
        g = TrussGraph.from_dict(json.loads(Path(c["json"]).read_text())["truss_graph"])
        stress, done, _ = custom.evaluate([g.to_frame(relative_density=custom.relative_density)])
        assert done[0]
        np.testing.assert_allclose(c["curve"], stress[0], rtol=1e-12)
        assert not np.allclose(c["curve"], fe_properties([g], NonlinearFESettings())[0], rtol=1e-3)
        a, o = g.to_vae_input("offsets")  # the predictor's curve at the final truss (issue 13)
        with torch.no_grad():
            predicted = predict_props(model, obj, torch.tensor(a[None]), torch.tensor(o[None])).numpy()[0]
        np.testing.assert_allclose(c["predicted_curve"], predicted, rtol=1e-5, atol=1e-9)
    html = (tmp_path / "report.html").read_text()
    assert '"name":"prediction"' in html and '"name":"target"' in html and '"name":"FE"' in html


def test_design_yaml_is_the_default_configuration():
    c = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "design.yaml"))
    assert "fem" not in c and "optimizer" not in c  # FE settings come from the data set
    cfg = InverseDesignConfig.from_dict({k: c[k] for k in ("search", "polish", "evolve", "fe_jobs", "seed")})
    expected = asdict(InverseDesignConfig())
    expected["polish"]["top"] = 3  # the entry point polishes the best 3 by default
    assert asdict(cfg) == expected
    for old, new in RENAMED_KEYS.items():  # every old key names a key that exists
        part, _, key = new.partition(".")
        assert (key in c[part]) if key else (part in c), (old, new)


def test_old_flat_keys_name_their_new_place():
    assert "polish.top" in renamed_key_message("optimizer.polish_top")
    assert "evolve.time_limit" in renamed_key_message("+optimizer.evolve_time_limit")
    assert "search.n_steps" in renamed_key_message("optimizer.n_steps")
    assert "search" in renamed_key_message("optimizer.bogus") and renamed_key_message("polish.top") is None
    with pytest.raises(ValueError, match="polish.top"):
        InverseDesignConfig.from_dict({"polish_top": 3})
    with pytest.raises(ValueError, match="unknown design setting"):
        InverseDesignConfig.from_dict({"bogus": 3})
    with pytest.raises(ValueError, match="unknown polish setting"):
        InverseDesignConfig.from_dict({"polish": {"polish_top": 3}})
    with pytest.raises(ValueError, match="polish.offsets"):
        InverseDesignConfig.from_dict({"polish": {"offsets": "newton"}})
    with pytest.raises(ValueError, match="evolve.population"):
        InverseDesignConfig.from_dict({"evolve": {"population": 0}})
    with pytest.raises(TypeError, match="from_dict"):
        InverseDesignConfig(search={"n_steps": 3})


def test_design_entry_refuses_old_overrides_with_the_new_key(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                                                                 os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(ROOT / "design.py"), "optimizer.polish_top=5"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "use polish.top" in r.stderr


def _design_result(train_set, n_steps=3):
    from trussvae.design.inverse import DesignResult
    from trussvae.design.search import Candidate

    C, graphs = train_set[2], train_set[3]
    obj = named_target("auxetic")
    cands = [Candidate(graphs[i], C[i], float(quantity("nu21", C[i])), 0.0, True, start, 2, False)
             for i, start in ((3, 1), (4, -1), (5, 0))]
    path = np.stack([C[:2] * (1 + 0.1 * k) for k in range(n_steps)])  # (steps, starts, 6, 6)
    return DesignResult(obj, cands, -0.1, np.zeros(len(C)), np.arange(2), np.zeros((n_steps, 2)),
                        predicted_props=path)


def test_property_space_of_a_design_result(train_set):
    from trussvae.design.report import property_space

    C = train_set[2]
    result = _design_result(train_set)
    space = property_space(result, C)
    assert (space["x_name"], space["y_name"]) == ("nu21", "E22")
    np.testing.assert_allclose(space["train_x"], quantity("nu21", C))
    np.testing.assert_allclose(space["path_y"], quantity("E22", result.predicted_props[:, 1]))  # best latent start
    np.testing.assert_allclose(space["fe_x"], [quantity("nu21", k.fe_props) for k in result.candidates])
    small = property_space(result, C, max_points=7)
    assert len(small["train_x"]) == 7 and set(small["train_x"]) <= set(space["train_x"])
    assert property_space(_design_result(train_set).__class__(
        CurveObjective("c", tuple(np.linspace(0.0, 1.0, 13))), [], 0.0, np.zeros(1), np.zeros(1), np.zeros((1, 1))),
        C) is None


def test_markdown_report_warns_of_a_near_mechanism(tmp_path):
    from trussvae.design.report import write_report
    from trussvae.fem import homogenize
    from trussvae.fem.properties import effective_properties
    from trussvae.generation import elementary

    rows = []
    for rank, (name, rho) in enumerate((("octet", 0.15), ("simple_cubic", 0.01))):
        frame = elementary(name).to_frame(relative_density=rho)
        C = homogenize(frame)
        path = tmp_path / f"cand_{rank}.json"
        path.write_text(json.dumps({"fe": {"stiffness_voigt": C.tolist()}}))
        rows.append({"rank": rank, "fe_value": 0.1, "predicted_value": 0.1, "novel": True, "repaired": False,
                     "json": str(path), "moduli": effective_properties(C, rho)})
    results = {"target": "stiff", "checkpoint": "c", "data_dir": "d", "sense": "maximize",
               "fe": {"relative_density": 0.15}, "best_training_value": 0.05, "best_fe_value": 0.1,
               "n_candidates": 2, "candidates": rows}
    text = write_report(results, tmp_path).read_text()
    warnings = [ln for ln in text.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "candidate #1" in warnings[0] and "close to a mechanism" in warnings[0]
