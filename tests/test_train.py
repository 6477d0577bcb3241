"""End-to-end training on the tiny labelled store, composed from the real conf/train.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from trussvae.data.physics import buckling_fe_settings, buckling_feature_path
from trussvae.models import TrussVAE, load_network
from trussvae.models.evaluation import CURVE_KEYS
from trussvae.training import REQUIRED_METRICS, train

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
os.environ.setdefault("WANDB_MODE", "offline")
torch.set_num_threads(1)


def _cfg(store_root, out_dir, *overrides, hydra_cfg: bool = False):
    base = [f"paths.root_dir={REPO}", f"paths.output_dir={out_dir}", f"data.data_dir={store_root}",
            "data.batch_size=64", "trainer.max_epochs=1", "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false",
            "++trainer.limit_train_batches=2", "++trainer.limit_val_batches=1", "++trainer.enable_model_summary=false",
            "model.validity_samples=40", "model.validity_every_n_epochs=1", "callbacks.figures.every_n_epochs=1"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("train", overrides=base + list(overrides), return_hydra_config=hydra_cfg)


def _plain(cfg):
    if "hydra" in cfg:
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(cfg, resolve=True)


def test_train_end_to_end_writes_metrics(labelled_store, tmp_path):
    cfg = _cfg(labelled_store.root, tmp_path / "run", "logger=csv")
    metrics = train(_plain(cfg))
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in REQUIRED_METRICS:
        assert key in saved and key in metrics, key
    assert set(saved["test/property_r2"]) == {"C1111", "C1122", "C1133", "C2222", "C2233", "C3333", "C2323",
                                              "C3131", "C1212"}
    assert 0.0 <= saved["test/adjacency_accuracy"] <= 1.0
    assert 0.0 <= saved["validity/raw"] <= saved["validity/repaired"] <= 1.0
    assert Path(saved["best_checkpoint"]).is_file()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert list((tmp_path / "run" / "csv").rglob("reconstructions_epoch0000.png"))
    # the checkpoint records its data set, and loads as a plain network giving the module's outputs
    net, info = load_network(saved["best_checkpoint"])
    assert info["data_dir"] == str(Path(labelled_store.root).resolve())
    assert (info["split_seed"], info["split_fractions"]) == (0, [0.8, 0.1, 0.1])
    assert info["data_provenance"]["generator"]["seed"] == 0 and info["data_provenance"]["n"] == 300
    assert 0 < info["n_train"] <= 240 and len(info["train_fingerprint"]) == 64
    assert info["split"] == "random"
    # what it was measured on, and the paper-definition metrics (held out, training subset, prior)
    assert (saved["data/generator"], saved["data/split"], saved["data/target"]) == ("default", "random", "linear")
    assert saved["data/n_train"] == info["n_train"] and saved["data/dir"] == info["data_dir"]
    for prefix in ("paper", "paper_train"):
        assert {f"{prefix}/property_r2_{n}" for n in saved["test/property_r2"]} <= set(saved)
    assert 0.0 <= saved["paper/adjacency_accuracy"] <= 1.0 and 0.0 <= saved["paper/validity"] <= 1.0
    assert "val/paper/adjacency_accuracy" in saved and "val/paper_sampled/node_r2_x" in saved
    assert not any(k.startswith("test/curve") for k in saved)
    module = TrussVAE.load_from_checkpoint(saved["best_checkpoint"], map_location="cpu").eval()
    adj = torch.as_tensor(labelled_store.load_structures()["adjacency"][:16], dtype=torch.float32)
    off = torch.as_tensor(labelled_store.load_structures()["offsets"][:16], dtype=torch.float32)
    with torch.no_grad():
        mu, _ = module.encode(adj, off)
        torch.testing.assert_close(net.encode(adj, off)[0], mu, rtol=0, atol=0)
        torch.testing.assert_close(net.predict(mu), module.predict(mu), rtol=0, atol=0)
        torch.testing.assert_close(net.decode(mu), module.decode(mu), rtol=0, atol=0)


def test_test_only_uses_the_checkpoints_architecture(labelled_store, tmp_path):
    trained = train(_plain(_cfg(labelled_store.root, tmp_path / "run", "logger=none", "model.adj_hidden=[64,32]")))
    ckpt = trained["best_checkpoint"]
    # the current config has another architecture: test-only must build the model from the checkpoint
    cfg = _cfg(labelled_store.root, tmp_path / "test", "logger=none", "train=false", f"ckpt_path={ckpt}")
    metrics = train(_plain(cfg))
    assert metrics["test/adjacency_accuracy"] == pytest.approx(trained["test/adjacency_accuracy"], abs=1e-6)
    assert metrics["test/property_r2_min"] == pytest.approx(trained["test/property_r2_min"], abs=1e-5)
    assert metrics["best_checkpoint"] == ckpt
    # the paper-definition metrics and the data record come with a test-only run too, even without callbacks
    bare_cfg = _plain(_cfg(labelled_store.root, tmp_path / "bare", "logger=none", "train=false", f"ckpt_path={ckpt}"))
    bare = train({**bare_cfg, "callbacks": {}})  # = callbacks=none
    for key in REQUIRED_METRICS:
        assert key in metrics and key in bare, key
    for key in ("paper/adjacency_accuracy", "paper/node_r2_z", "paper_sampled/adjacency_accuracy", "paper/validity",
                "paper_train/property_r2_min"):
        assert metrics[key] == pytest.approx(trained[key], abs=1e-5) and bare[key] == pytest.approx(metrics[key]), key
    assert metrics["data/split"] == "random" and metrics["data/n_train"] == trained["data/n_train"]
    bad = _cfg(labelled_store.root, tmp_path / "bad", "logger=none", "train=false", f"ckpt_path={tmp_path}/no.ckpt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_plain(bad))
    with pytest.raises(ValueError, match="ckpt_path"):
        train(_plain(_cfg(labelled_store.root, tmp_path / "bad", "logger=none", "train=false")))


@pytest.fixture(scope="module")
def nonlinear_store(tmp_path_factory):
    """120 structures with synthetic nonlinear labels (13 stresses per curve; chunk 1 unlabelled, as
    with label_rows) and two flat curves: what the curve metrics and the split record need, without FE."""
    from trussvae.fem.elasticity import LABEL_STRAINS
    from trussvae.generation import build_dataset

    store = build_dataset(tmp_path_factory.mktemp("nl") / "ds", 120, seed=1, chunk_size=60, scheduler="sync",
                          progress=False)
    chunk = store.read_structure_chunk(0)
    n = len(chunk["hashes"])
    k = chunk["adjacency"].sum(1, keepdims=True) / 100.0
    stress = k * LABEL_STRAINS * (1.0 + 0.1 * chunk["offsets"][:, :1])
    stress[:2] = 1e-3
    store.write_label_chunk("nonlinear", 0, {"n": n}, stress=stress, ok=np.ones(n, bool))
    return store


def test_nonlinear_target_records_curve_metrics_and_topology_split(nonlinear_store, tmp_path):
    cfg = _cfg(nonlinear_store.root, tmp_path / "run", "logger=none", "data.target=nonlinear",
               "data.split=topology", "data.batch_size=16", "callbacks.paper_metrics.validation=false")
    metrics = train(_plain(cfg))
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in REQUIRED_METRICS + CURVE_KEYS:
        assert key in saved, key
    assert (saved["data/target"], saved["data/split"]) == ("nonlinear", "topology")
    assert all(f"test/curve_r2_e{i:02d}" in saved for i in range(13))
    assert saved["test/curve_nrmse_mean"] > 0 and saved["test/curve_nrmse_global"] > 0
    assert saved["test/curve_nrmse_median"] == pytest.approx(metrics["test/curve_nrmse_median"])
    assert "paper/property_r2_sigma_00" in saved and "paper_train/property_r2_sigma_12" in saved
    assert not any(k.startswith("val/paper") for k in saved)
    assert not any("curve_tta" in k for k in saved)  # model.tta=false: no test-time averaged curves
    _, info = load_network(saved["best_checkpoint"])
    assert info["split"] == "topology"


def test_nonlinear_curves_relative_to_the_ritz_estimate_train_and_reload(nonlinear_store, tmp_path):
    cfg = _cfg(nonlinear_store.root, tmp_path / "run", "logger=none", "data.target=nonlinear", "data.batch_size=16",
               "model.physics=ritz", "model.physics_hops=1", "model.curve_baseline=ritz",
               "callbacks.paper_metrics.validation=false", "model.admissible_samples=0", "model.tta=true")
    metrics = train(_plain(cfg))
    assert np.isfinite(metrics["test/curve_nrmse_global"]) and metrics["test/curve_nrmse_global"] > 0
    # model.tta: the curve metrics of the test-time average too, beside the plain headline
    for key in ("mean", "median", "global"):
        assert np.isfinite(metrics[f"test/curve_tta_nrmse_{key}"])
    assert metrics["test/curve_tta_nrmse_mean"] != metrics["test/curve_nrmse_mean"]
    net, _ = load_network(metrics["best_checkpoint"])
    assert net.curve_baseline == "ritz" and net.physics == "ritz"


def test_nonlinear_buckling_features_train_cache_and_reload(nonlinear_store, tmp_path):
    cfg = _cfg(nonlinear_store.root, tmp_path / "run", "logger=none", "data.target=nonlinear", "data.batch_size=16",
               "model.physics=ritz", "model.physics_hops=1", "model.curve_baseline=ritz",
               "model.curve_features=buckling", "callbacks.paper_metrics.validation=false",
               "model.admissible_samples=0")
    metrics = train(_plain(cfg))
    assert np.isfinite(metrics["test/curve_nrmse_mean"])
    assert buckling_feature_path(nonlinear_store.root).is_file()  # cached beside the data
    net, _ = load_network(metrics["best_checkpoint"])
    assert net.curve_features == "buckling" and net.n_physics_features == 13
    assert net.curve_fe == buckling_fe_settings(nonlinear_store.meta)
    # a trained checkpoint re-tested alone gets the features it was trained with, the same metrics
    again = _cfg(nonlinear_store.root, tmp_path / "retest", "logger=none", "data.target=nonlinear", "train=false",
                 f"ckpt_path={metrics['best_checkpoint']}", "callbacks.paper_metrics.validation=false")
    retest = train(_plain(again))
    assert retest["test/curve_nrmse_mean"] == pytest.approx(metrics["test/curve_nrmse_mean"], rel=1e-5)
    bad = _cfg(nonlinear_store.root, tmp_path / "bad", "logger=none", "data.target=nonlinear",
               "model.physics=ritz", "model.curve_baseline=ritz", "model.curve_features=buckling",
               "data.curve_features=none")
    with pytest.raises(ValueError, match="curve_features"):
        train(_plain(bad))


def test_second_order_buckling_features_reach_the_batches(nonlinear_store):
    """buckling2 (17 columns), + the load redistribution (its 28 after the same 17, from the buckling2 cache),
    + the buckled-strut curve (its 26 after the same 45)."""
    from trussvae.data.datamodule import TrussDataModule

    phys = {}
    for kind in ("buckling2", "redistribution", "postbuckling"):
        dm = TrussDataModule(nonlinear_store.root, target="nonlinear", label_transform="log", physics="ritz",
                             physics_hops=1, curve_features=kind, max_train=20)
        dm.setup()
        phys[kind] = dm.datasets["train"].tensors["phys"]
        assert torch.isfinite(phys[kind]).all()
        assert buckling_feature_path(nonlinear_store.root, kind).is_file()
    b2, more, most = phys["buckling2"], phys["redistribution"], phys["postbuckling"]
    assert (b2.shape, more.shape, most.shape) == ((20, 17), (20, 45), (20, 71))
    assert (b2[:, 13] > 0).all() and ((b2[:, 15] >= 0) & (b2[:, 15] <= 1)).all()
    torch.testing.assert_close(more[:, :17], b2)
    assert ((more[:, 17:43] >= 0) & (more[:, 17:43] <= 1)).all() and (more[:, 43] > 0).all()
    torch.testing.assert_close(most[:, :45], more)
    assert ((most[:, 45:] > 0) & (most[:, 45:] <= 1 + 1e-6)).all()


def test_config_typo_fails_clearly(labelled_store, tmp_path):
    with pytest.raises(ConfigCompositionException, match="d_Aa"):
        _cfg(labelled_store.root, tmp_path, "model.d_Aa=6")
    with pytest.raises(ConfigCompositionException, match="loger|logger"):
        _cfg(labelled_store.root, tmp_path, "loger=csv")
    cfg = _cfg(labelled_store.root, tmp_path, "model.d_A=3", "model.d_Ax=4", "logger=none")
    with pytest.raises(ValueError, match="d_Ax"):
        train(_plain(cfg))


def test_missing_store_says_what_to_run(tmp_path):
    cfg = _cfg(tmp_path / "no_store", tmp_path / "run", "logger=none")
    with pytest.raises(FileNotFoundError, match="python homogenize.py out="):
        train(_plain(cfg))


def test_latent_split_override_and_sweep_configs_compose(labelled_store, tmp_path):
    cfg = _cfg(labelled_store.root, tmp_path, "model.d_A=6", "model.d_x=6", "model.d_Ax=2")
    assert (cfg.model.d_A, cfg.model.d_x, cfg.model.d_Ax) == (6, 6, 2)
    sweep = _cfg(labelled_store.root, tmp_path, "+sweep=latent_split", hydra_cfg=True)
    assert set(sweep.hydra.sweeper.params) == {"model.d_A", "model.d_x", "model.d_Ax"}
    optuna = _cfg(labelled_store.root, tmp_path, "hparams_search=optuna", hydra_cfg=True)
    assert optuna.hydra.sweeper.storage is None and optuna.optimized_metric == "val/objective"
    slurm = _cfg(labelled_store.root, tmp_path, "+launcher=slurm", hydra_cfg=True)
    assert "submitit" in slurm.hydra.launcher._target_.lower()
    for name in ("paper", "gnn", "paper_protocol"):
        _cfg(labelled_store.root, tmp_path, f"experiment={name}")
    protocol = _cfg(labelled_store.root, tmp_path, "experiment=paper_protocol")
    assert protocol.data.split == "random" and protocol.trainer.max_time <= "00:02:00:00"
    assert protocol.model == _cfg(labelled_store.root, tmp_path).model  # the default model
    nonlinear, reference = (_cfg(labelled_store.root, tmp_path, f"experiment={n}") for n in ("nonlinear", "reference"))
    assert (nonlinear.data.target, nonlinear.data.label_transform, nonlinear.model.curve_baseline) == \
        ("nonlinear", "log", "ritz")
    assert nonlinear.data.curve_features == nonlinear.model.curve_features == "postbuckling"
    assert nonlinear.model.physics == reference.model.physics == "ritz" and nonlinear.model.target == "nonlinear"
    assert (reference.model.augment, reference.model.decoder_input) == ("axes", "full")
    # the nonlinear runs keep the configuration they were measured with (docs/model.md)
    assert (nonlinear.model.augment, nonlinear.model.decoder_input) == ("all", "split")
    assert not nonlinear.model.admissible
    for name in ("default", "fdr", "overfit", "limit"):
        _cfg(labelled_store.root, tmp_path, f"debug={name}")
    wandb = _cfg(labelled_store.root, tmp_path, "logger=wandb")
    assert wandb.logger.wandb.mode in ("offline", os.environ.get("WANDB_MODE"))


@pytest.mark.slow
def test_gnn_encoder_and_tensorboard_run(labelled_store, tmp_path):
    cfg = _cfg(labelled_store.root, tmp_path / "run", "model=vae_gnn", "logger=tensorboard")
    metrics = train(_plain(cfg))
    assert all(k in metrics for k in REQUIRED_METRICS)
    assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_train_py_entry_point_and_resume(labelled_store, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, str(REPO / "train.py"), f"data.data_dir={labelled_store.root}", f"hydra.run.dir={run}",
           "data.batch_size=64", "trainer.max_epochs=1", "trainer.accelerator=cpu", "logger=none",
           "model.validity_samples=20", "trainer.enable_progress_bar=false"]
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, cwd=tmp_path, env=env, capture_output=True, timeout=300)
    assert (run / "metrics.json").is_file()
    out = subprocess.run(cmd[:-4] + ["trainer.max_epochs=2", "logger=none", "model.validity_samples=20",
                                     "trainer.enable_progress_bar=false"],
                         check=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "auto-resume" in out.stdout + out.stderr
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["epoch"] == 1
