"""Checkpoints: the data set record, load_network (no Lightning), old layouts, bad files."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from trussvae.io.store import FORMAT, FORMAT_VERSION
from trussvae.models import CheckpointError, TrussVAE, TrussVAENet, load_network
from trussvae.models.checkpoint import DATA_KEY, dataset_record, train_fingerprint

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
HPARAMS = dict(d_A=6, d_x=6, d_Ax=2, adj_hidden=[64, 32], feat_hidden=[32], pred_hidden=[32], n_properties=4,
               property_names=list("abcd"), label_mean=[1.0, 2, 3, 4], label_std=[1.0, 1, 1, 2],
               label_log_mask=[True, False, False, False], w_mmd=10.0, lr=3e-3)


def _store_meta(root: Path) -> dict:
    """A lattice store's meta.json (the only file a data set record reads)."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "design_space": "octant27-v1",
            "generator": {"seed": 7, "generator_version": "1.0"}, "n": 10,
            "labels": {"linear": {"E_s": 1.0, "nu_s": 0.3, "relative_density": 0.15}}}
    root.mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps(meta))
    return meta


def _save(model: TrussVAE, path: Path) -> Path:
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, max_epochs=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


def _inputs(B=8):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(B, 351, generator=g) < 0.05).float(), (torch.rand(B, 27, generator=g) - 0.5) * 0.8


def _outputs(net, adj, off) -> dict:
    net.eval()
    with torch.no_grad():
        mu, logvar = net.encode(adj, off)
        prob, off_hat = net.decode(mu)
        return {"mu": mu, "logvar": logvar, "prob": prob, "offsets": off_hat, "y": net.denormalise(net.predict(mu))}


def _assert_same_outputs(reference, *others) -> None:
    """Every output of every model in ``others`` equals ``reference``'s bit for bit."""
    adj, off = _inputs()
    ref = _outputs(reference, adj, off)
    for other in others:
        for key, value in _outputs(other, adj, off).items():
            torch.testing.assert_close(value, ref[key], rtol=0, atol=0, msg=key)


@pytest.fixture
def saved(tmp_path):
    """A checkpoint written by Lightning with a data set record, and the model it holds."""
    torch.manual_seed(0)
    model = TrussVAE(**HPARAMS)
    _store_meta(tmp_path / "store")
    model.data_record = dataset_record(tmp_path / "store", 3, (0.7, 0.2, 0.1), ["h2", "h1", "h3"], "topology")
    return model, _save(model, tmp_path / "m.ckpt")


def test_dataset_record(tmp_path):
    meta = _store_meta(tmp_path / "data" / "store")
    rec = dataset_record(tmp_path / "data" / ".." / "data" / "store", 3, (0.7, 0.2, 0.1), ["b", "a"])
    assert rec["data_dir"] == str((tmp_path / "data" / "store").resolve())  # absolute, normalised
    assert rec["provenance"] == meta and rec["split_seed"] == 3 and rec["split_fractions"] == [0.7, 0.2, 0.1]
    assert rec["n_train"] == 2 and rec["train_fingerprint"] == train_fingerprint(["a", "b"])
    assert train_fingerprint(["a", "b"]) != train_fingerprint(["a", "c"])
    assert "n_train" not in dataset_record(tmp_path / "data" / "store", 0, (0.8, 0.1, 0.1))
    json.dumps(rec)  # plain data (torch.load(weights_only=True) reads it back)


def test_checkpoint_records_data_set_and_load_network_matches_module(saved):
    model, path = saved
    ckpt = torch.load(path, weights_only=True)
    assert ckpt[DATA_KEY] == model.data_record
    assert all(k.startswith(("net.", "metrics.")) for k in ckpt["state_dict"])
    net, info = load_network(path)
    assert isinstance(net, TrussVAENet) and not net.training
    assert info["data_dir"] == model.data_record["data_dir"] and info["split_seed"] == 3
    assert info["split_fractions"] == [0.7, 0.2, 0.1] and info["data_provenance"]["generator"]["seed"] == 7
    assert info["split"] == "topology"
    assert info["data_provenance"]["labels"]["linear"]["relative_density"] == 0.15
    assert info["n_train"] == 3 and info["target"] == "linear" and info["hparams"]["w_mmd"] == 10.0
    module = TrussVAE.load_from_checkpoint(path, map_location="cpu")
    assert module.data_record == model.data_record  # restored (a test-only run keeps it)
    _assert_same_outputs(model, net, module)


def test_load_network_does_not_import_lightning(saved, tmp_path):
    model, path = saved
    adj, off = _inputs()
    torch.save({"adj": adj, "off": off, **_outputs(model, adj, off)}, tmp_path / "ref.pt")
    code = f"""
import sys, torch
from trussvae.models import load_network
net, info = load_network({str(path)!r})
ref = torch.load({str(tmp_path / "ref.pt")!r})
with torch.no_grad():
    mu, _ = net.encode(ref["adj"], ref["off"])
    assert torch.equal(mu, ref["mu"]) and torch.equal(net.denormalise(net.predict(mu)), ref["y"])
    assert torch.equal(net.decode(mu)[0], ref["prob"])
assert info["split_seed"] == 3
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pytorch_lightning", "lightning", "torchmetrics"))
print("LOADED", loaded)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "LOADED []" in res.stdout


def test_old_layout_checkpoint_still_loads(saved, tmp_path):
    """Checkpoints written before the network moved to ``TrussVAE.net`` (weights at the top level,
    no data set record)."""
    model, path = saved
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"] = {k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()}
    del ckpt[DATA_KEY]
    assert "adj_encoder.net.0.weight" in ckpt["state_dict"]
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    net, info = load_network(old)
    assert info["data_dir"] is None and info["split_seed"] is None and info["data_provenance"] is None
    assert info["split"] is None  # not recorded: written before split modes (random) existed
    module = TrussVAE.load_from_checkpoint(old, map_location="cpu")
    assert module.data_record is None
    _assert_same_outputs(model, net, module)


def test_bad_checkpoints_are_refused_clearly(saved, tmp_path):
    _, path = saved
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_network(tmp_path / "missing.ckpt")
    (tmp_path / "garbage.ckpt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_network(tmp_path / "garbage.ckpt")
    (tmp_path / "truncated.ckpt").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_network(tmp_path / "truncated.ckpt")
    torch.save({"model": torch.nn.Linear(2, 2).state_dict()}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a trussvae training checkpoint.*state_dict"):
        load_network(tmp_path / "foreign.pt")
    torch.save({"state_dict": {}, "hyper_parameters": {"hidden": 3}}, tmp_path / "other_lightning.ckpt")
    with pytest.raises(CheckpointError, match="lack.*d_A"):
        load_network(tmp_path / "other_lightning.ckpt")
    ckpt = torch.load(path, weights_only=True)
    wrong = dict(ckpt, hyper_parameters={**ckpt["hyper_parameters"], "adj_hidden": [64, 16]})
    torch.save(wrong, tmp_path / "shape.ckpt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_network(tmp_path / "shape.ckpt")
    missing = dict(ckpt, state_dict={k: v for k, v in ckpt["state_dict"].items() if "predictor" not in k})
    torch.save(missing, tmp_path / "partial.ckpt")
    with pytest.raises(CheckpointError, match="missing.*predictor"):
        load_network(tmp_path / "partial.ckpt")
    other_space = dict(ckpt, hyper_parameters={**ckpt["hyper_parameters"], "design_space_version": "cube8-v0"})
    torch.save(other_space, tmp_path / "space.ckpt")
    with pytest.raises(CheckpointError, match="design space"):
        load_network(tmp_path / "space.ckpt")


def _design_script():
    spec = importlib.util.spec_from_file_location("design_entry", REPO / "design.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_design_py_takes_data_set_from_checkpoint_and_hydra_config_only_for_old_ones(saved, tmp_path):
    model, path = saved
    settings = _design_script()._training_run_settings(None, str(path))
    assert settings == {"ckpt_path": str(path), "data_dir": model.data_record["data_dir"], "split_seed": 3,
                        "split_fractions": [0.7, 0.2, 0.1], "split": "topology"}
    # an old checkpoint inside a training run folder: data set and split from its .hydra/config.yaml
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("data:\n  data_dir: /data/old_store\n  split_seed: 5\n"
                                                "  split_fractions: [0.6, 0.2, 0.2]\n")
    (run / "checkpoints").mkdir()
    ckpt = torch.load(path, weights_only=True)
    del ckpt[DATA_KEY]
    torch.save(ckpt, run / "checkpoints" / "best.ckpt")
    (run / "metrics.json").write_text(json.dumps({"best_checkpoint": str(run / "checkpoints" / "best.ckpt")}))
    old = _design_script()._training_run_settings(run, None)
    assert old == {"ckpt_path": str(run / "checkpoints" / "best.ckpt"), "data_dir": "/data/old_store",
                   "split_seed": 5, "split_fractions": [0.6, 0.2, 0.2], "split": "random"}
    # the record wins over a Hydra config when both exist
    torch.save(torch.load(path, weights_only=True), run / "checkpoints" / "best.ckpt")
    assert _design_script()._training_run_settings(run, None)["data_dir"] == model.data_record["data_dir"]
    with pytest.raises(SystemExit, match="not a readable"):
        (tmp_path / "bad.ckpt").write_bytes(b"xx")
        _design_script()._training_run_settings(None, str(tmp_path / "bad.ckpt"))


def test_store_prior_into_a_copy_with_new_settings(tmp_path):
    from trussvae.models.checkpoint import store_prior
    from trussvae.models.latent_prior import GaussianMixturePrior

    torch.manual_seed(0)
    src = _save(TrussVAE(**HPARAMS), tmp_path / "plain.ckpt")  # trained without a learned prior
    before = src.read_bytes()
    net, _ = load_network(src)
    assert net.prior is None
    net.prior = GaussianMixturePrior(net.latent_dim, 3)
    net.prior.fit(torch.randn(60, net.latent_dim), n_iter=5)
    with pytest.raises(CheckpointError, match="no learned prior of this size"):
        store_prior(src, net, out=tmp_path / "x.ckpt")  # without the settings: the file has no prior to replace
    with pytest.raises(ValueError, match="prior_components=4"):
        store_prior(src, net, out=tmp_path / "x.ckpt", hparams={"prior_components": 4})
    out = store_prior(src, net, out=tmp_path / "sub" / "with_prior.ckpt",
                      hparams={"prior_components": 3, "prior_fit_on": "mean"})
    assert src.read_bytes() == before and out == tmp_path / "sub" / "with_prior.ckpt"
    loaded, info = load_network(out)
    assert loaded.prior.fitted and loaded.prior.n_components == 3 and info["hparams"]["prior_fit_on"] == "mean"
    assert torch.equal(loaded.prior.means, net.prior.means)
    assert TrussVAE.load_from_checkpoint(out).hparams.prior_fit_on == "mean"
