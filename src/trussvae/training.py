"""Training entry point as a plain function: ``train(cfg: dict) -> metrics dict``.

No Hydra here: ``train.py`` composes the configuration and passes plain dicts. Objects given
as ``{"_target_": "package.Class", **kwargs}`` (callbacks, loggers) are built by
:func:`build_object`.

After fitting, a learned latent prior (``model.prior_components`` > 0) is fitted with the best
checkpoint's weights and stored in that checkpoint before the test.

``cfg`` keys: ``seed``, ``data`` (:class:`~trussvae.data.TrussDataModule` kwargs), ``model``
(:class:`~trussvae.models.TrussVAE` kwargs; label statistics and property names are filled in
from the data), ``trainer`` (``pytorch_lightning.Trainer`` kwargs), ``callbacks`` and ``logger``
(name -> object spec, or empty), ``paths.output_dir`` (the run folder), ``ckpt_path`` (None,
``"last"`` = ``<output_dir>/checkpoints/last.ckpt``, or a path), ``auto_resume`` (resume from
``<output_dir>/checkpoints/last.ckpt`` when it exists), ``train`` / ``test`` (bools), ``refit_prior``
(with ``train=false``: fit a new learned prior with the ``model.prior_*`` settings of ``cfg`` to the
checkpoint's weights, store it in a copy of the checkpoint under ``<output_dir>/checkpoints/``, the
original untouched, and test that copy).

Evaluation: the module's strict metrics (``val/...``, ``test/...``, ``validity/...``) and the
paper-definition metrics of :class:`~trussvae.models.evaluation.PaperMetricsCallback` (added when
the configured callbacks have none); ``metrics.json`` also records the data set (:func:`data_keys`).
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import yaml

from trussvae.data import TrussDataModule
from trussvae.io.store import LatticeStore
from trussvae.models import TrussVAE
from trussvae.models.checkpoint import network_state_dict, store_prior
from trussvae.models.evaluation import CURVE_KEYS, PAPER_KEYS, PaperMetricsCallback
from trussvae.models.latent_prior import GaussianMixturePrior

log = logging.getLogger(__name__)

__all__ = ["train", "build_object", "resolve_ckpt_path", "data_keys", "refit_learned_prior", "match_datamodule",
           "run_datamodule", "REQUIRED_METRICS", "DATA_KEYS", "PRIOR_KEYS"]

#: what a metrics.json records about the data set it was measured on (:func:`data_keys`)
DATA_KEYS = ("data/generator", "data/split", "data/n_train", "data/target", "data/dir")
#: keys of every tested run's metrics.json (NaN/undefined values are written as null); a nonlinear
#: model adds :data:`~trussvae.models.evaluation.CURVE_KEYS`
REQUIRED_METRICS = ("test/adjacency_accuracy", "test/exact_topology_fraction", "test/node_r2_x", "test/node_r2_y",
                    "test/node_r2_z", "test/property_r2_min", "test/property_r2", "validity/raw",
                    "validity/repaired", "validity/novel_unique", "best_checkpoint", *PAPER_KEYS, *DATA_KEYS)


def build_object(spec: dict):
    """``{"_target_": "pkg.mod.Class", **kwargs}`` -> ``Class(**kwargs)``."""
    if not isinstance(spec, dict) or "_target_" not in spec:
        raise ValueError(f"expected a dict with a '_target_' key, got {spec!r}")
    kwargs = {k: v for k, v in spec.items() if k != "_target_"}
    module, _, name = spec["_target_"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {spec['_target_']!r}: {exc}") from exc
    return cls(**kwargs)


def _build_all(specs: dict | None) -> list:
    return [build_object(s) for s in (specs or {}).values() if s]


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path, auto_resume: bool) -> str | None:
    last = output_dir / "checkpoints" / "last.ckpt"
    if ckpt_path == "last":
        if not last.is_file():
            raise FileNotFoundError(f"ckpt_path=last but {last} does not exist; set hydra.run.dir to the "
                                    "folder of the run to resume")
        return str(last)
    if ckpt_path:
        if not Path(ckpt_path).is_file():
            raise FileNotFoundError(f"ckpt_path: no checkpoint at {ckpt_path}")
        return str(ckpt_path)
    if auto_resume and last.is_file():
        log.info("auto-resume from %s", last)
        return str(last)
    return None


def _model_kwargs(model_cfg: dict, dm: TrussDataModule) -> dict:
    kw = dict(model_cfg)
    if kw.get("target", dm.target) != dm.target:
        raise ValueError(f"model.target={kw['target']!r} but data.target={dm.target!r}")
    norm = dm.normalizer
    kw.update(target=dm.target, n_properties=dm.n_properties, property_names=dm.label_names,
              label_mean=norm.mean, label_std=norm.std, label_log_mask=norm.log_mask)
    physics, hops = kw.get("physics", "none"), int(kw.get("physics_hops", 2))
    if (physics, hops) != (dm.physics, dm.physics_hops):
        raise ValueError(f"model.physics={physics!r} (hops {hops}) but the data module gives {dm.physics!r} "
                         f"(hops {dm.physics_hops}); keep data.physics and data.physics_hops at their defaults "
                         "(${model.physics}, ${model.physics_hops})")
    if kw.get("curve_features", "none") != dm.curve_features:
        raise ValueError(f"model.curve_features={kw.get('curve_features', 'none')!r} but the data module gives "
                         f"{dm.curve_features!r}; keep data.curve_features at its default (${{model.curve_features}})")
    if physics != "none":
        kw["physics_fe"] = dm.physics_fe  # the features use the FE settings of the data set's labels
    if dm.curve_features != "none":
        kw["curve_fe"] = dm.curve_fe  # the buckling features: the settings of the nonlinear labels
    return kw


def _check_same_labels(model: TrussVAE, dm: TrussDataModule, ckpt: str) -> None:
    """A checkpoint tested on a data module must predict the labels that data set holds."""
    if model.target != dm.target or list(model.property_names) != list(dm.label_names):
        raise ValueError(f"checkpoint {ckpt} predicts {model.target!r} labels {list(model.property_names)}, "
                         f"data.target={dm.target!r} gives {list(dm.label_names)}; set data.target to match")


def data_keys(dm: TrussDataModule) -> dict:
    """What a run was measured on: ``data/generator`` (the store's ``meta.json`` generator name:
    ``default`` for our generator, ``paper`` for the paper protocol, ``paper_files`` for imported
    files), ``data/split`` (``random`` | ``topology``), ``data/n_train`` (training rows with valid
    labels), ``data/target`` (``linear`` | ``nonlinear``) and ``data/dir`` (absolute). Call after
    ``dm.setup()``."""
    if "train" not in dm.datasets:
        raise RuntimeError("data_keys() needs a set-up data module (call dm.setup() first)")
    generator = LatticeStore(dm.data_dir).meta.get("generator") or {}
    return {"data/generator": str(generator.get("name", "default")), "data/split": dm.split,
            "data/n_train": len(dm.datasets["train"]), "data/target": dm.target,
            "data/dir": str(Path(dm.data_dir).resolve())}


def _scalars(metrics: dict) -> dict:
    out = {}
    for k, v in metrics.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _fit_learned_prior(trainer: pl.Trainer, model: TrussVAE, dm: TrussDataModule, best: str) -> dict:
    """Fit the learned latent prior (``model.prior_components`` > 0) with the best checkpoint's weights
    to the aggregate posterior of the training split and store it in that checkpoint, which the test
    and inverse design then load. Returns ``prior/*`` metrics (empty when there is no prior)."""
    if not model.hparams.get("prior_components") or not best:
        return {}
    out: dict = {}
    if trainer.is_global_zero:
        t0 = time.perf_counter()
        weights = network_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
        model.net.load_state_dict(weights)
        train = dm.datasets["train"].tensors
        k = model.net.prior.n_components
        if len(train["adj"]) < 2 * k:
            log.warning("learned prior not fitted: %d training structures for %d components (need %d); the test "
                        "reports no validity/*_learned_prior", len(train["adj"]), k, 2 * k)
            trainer.strategy.barrier()
            return {}
        report = model.fit_prior(train["adj"], train["offsets"], train.get("phys"))
        store_prior(best, model.net)
        out = {"prior/log_likelihood": report["log_likelihood"], "prior/iterations": float(report["iterations"]),
               "prior/n_samples": float(report["n"]), "prior/fit_seconds": time.perf_counter() - t0}
        log.info("learned prior (%d components) fitted to %d latents in %.1f s, stored in %s",
                 model.net.prior.n_components, report["n"], out["prior/fit_seconds"], best)
    trainer.strategy.barrier()
    return out


def match_datamodule(dm: TrussDataModule, model: TrussVAE) -> TrussDataModule:
    """Make a (not yet set up) data module serve a trained ``model``: its label normalisation and the physics
    / curve features it reads. Returns ``dm``."""
    dm.use_normalizer(model.normalizer)
    dm.use_physics(model.hparams.get("physics", "none"), int(model.hparams.get("physics_hops", 2)),
                   model.hparams.get("curve_features", "none"))
    return dm


def run_datamodule(run: str | Path, model: TrussVAE) -> TrussDataModule:
    """The (not yet set up) data module of a training run folder that serves its trained ``model``: the run's
    ``data`` settings (``<run>/.hydra/config.yaml``; the interpolations Hydra saves unresolved, e.g. the curve
    features, are left out: :func:`match_datamodule` takes them from the model)."""
    cfg = yaml.safe_load((Path(run) / ".hydra" / "config.yaml").read_text())
    data = {k: v for k, v in cfg["data"].items() if not (isinstance(v, str) and "${" in v)}
    return match_datamodule(TrussDataModule(**data), model)


PRIOR_KEYS = ("prior_components", "prior_fit_samples", "prior_fit_iterations", "prior_fit_on")


def refit_learned_prior(model: TrussVAE, dm: TrussDataModule, model_cfg: dict, ckpt: str | Path,
                        out_dir: str | Path) -> tuple[dict, str]:
    """Fit a new learned prior to a trained ``model`` (loaded from ``ckpt``) with the prior settings of
    ``model_cfg`` (:data:`PRIOR_KEYS`; e.g. more components, ``prior_fit_on=mean``) on the training
    split of ``dm`` (set up), and write the checkpoint with it to ``out_dir/<ckpt stem>_prior<K><on>.ckpt``
    (``ckpt`` itself is not changed). The model in memory carries the new prior and settings.
    Returns (``prior/*`` metrics, the new checkpoint's path)."""
    settings = {k: model_cfg[k] for k in PRIOR_KEYS if k in model_cfg}
    k = settings.get("prior_components", model.hparams.prior_components)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"refit_prior needs model.prior_components >= 1, got {k!r}")
    model.hparams.update(settings)  # the other settings are checked by the fit (nothing is written before it)
    model.net.prior = GaussianMixturePrior(model.net.latent_dim, int(k))
    train = dm.datasets["train"].tensors
    t0 = time.perf_counter()
    report = model.fit_prior(train["adj"], train["offsets"], train.get("phys"))
    on = model.hparams.prior_fit_on
    out = Path(out_dir) / f"{Path(ckpt).stem}_prior{int(k)}{on}.ckpt"
    hparams = {key: model.hparams[key] for key in PRIOR_KEYS}
    store_prior(ckpt, model.net, out=out, hparams=hparams)
    metrics = {"prior/log_likelihood": report["log_likelihood"], "prior/iterations": float(report["iterations"]),
               "prior/n_samples": float(report["n"]), "prior/fit_seconds": time.perf_counter() - t0,
               "prior/components": float(k), "prior/refit_of": str(Path(ckpt).resolve())}
    log.info("learned prior refitted (%d components, fit on %s) to %d latents in %.1f s; stored in %s (%s unchanged)",
             int(k), on, report["n"], metrics["prior/fit_seconds"], out, ckpt)
    return metrics, str(out)


def train(cfg: dict) -> dict:
    """Fit the VAE, test the best checkpoint, write ``metrics.json`` into the run folder; return the metrics."""
    output_dir = Path(cfg["paths"]["output_dir"])
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(int(cfg.get("seed", 0)), workers=True)
    dm = TrussDataModule(**cfg["data"])
    test_only_ckpt = None if cfg.get("train", True) else cfg.get("ckpt_path")
    if not cfg.get("train", True) and cfg.get("test", True) and not test_only_ckpt:
        raise ValueError("train=false tests a trained model: also set ckpt_path=<run>/checkpoints/<file>.ckpt")
    if test_only_ckpt:  # evaluate a trained model: its own architecture and label normalisation
        test_only_ckpt = resolve_ckpt_path(test_only_ckpt, output_dir, False)
        model = TrussVAE.load_from_checkpoint(test_only_ckpt, map_location="cpu")
        match_datamodule(dm, model)
    dm.setup("fit")
    if dm.design_space_version and dm.design_space_version != cfg["model"].get("design_space_version",
                                                                                dm.design_space_version):
        raise ValueError(f"data set design space {dm.design_space_version!r} != model's")
    if test_only_ckpt:
        _check_same_labels(model, dm, test_only_ckpt)
    elif cfg.get("refit_prior"):
        raise ValueError("refit_prior=true refits the learned prior of a trained model: set train=false and "
                         "ckpt_path=<run>/checkpoints/<file>.ckpt (training fits its prior anyway)")
    else:
        model = TrussVAE(**_model_kwargs(cfg["model"], dm))
    loggers = _build_all(cfg.get("logger"))
    callbacks = _build_all(cfg.get("callbacks"))
    if not any(isinstance(c, PaperMetricsCallback) for c in callbacks):  # metrics.json contracts: always evaluated
        callbacks.append(PaperMetricsCallback())
    if not loggers:  # logger=none: a learning-rate monitor has nowhere to write
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]
    trainer = pl.Trainer(**cfg.get("trainer", {}), callbacks=callbacks, logger=loggers or False)
    measured_on = data_keys(dm)
    for lg in loggers:
        lg.log_hyperparams({"data": cfg["data"], "trainer": cfg.get("trainer", {}), "seed": cfg.get("seed"),
                            "measured_on": measured_on})
    metrics: dict = dict(measured_on)
    if test_only_ckpt and cfg.get("refit_prior"):
        prior_metrics, test_only_ckpt = refit_learned_prior(model, dm, cfg["model"], test_only_ckpt,
                                                            output_dir / "checkpoints")
        metrics.update(prior_metrics)
    if cfg.get("train", True):
        ckpt = resolve_ckpt_path(cfg.get("ckpt_path"), output_dir, bool(cfg.get("auto_resume", True)))
        t0 = time.perf_counter()
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt)
        metrics.update(_scalars(trainer.callback_metrics))
        fit_s = time.perf_counter() - t0
        epochs = trainer.current_epoch - getattr(model, "fit_start_epoch", 0)
        n_train = len(dm.datasets["train"])
        # throughput of this call (a resumed run counts only its own epochs; validation included)
        metrics.update({"time/fit_minutes": fit_s / 60.0, "time/epochs": float(trainer.current_epoch),
                        "time/epoch_seconds": fit_s / max(epochs, 1),
                        "time/train_samples_per_s": n_train * max(epochs, 1) / fit_s})
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback is not None else ""
    if cfg.get("train", True):
        metrics.update(_fit_learned_prior(trainer, model, dm, best))
    if cfg.get("test", True):
        trainer.test(model, datamodule=dm, ckpt_path=best or None)  # test-only: weights already loaded
        metrics.update(_scalars(trainer.callback_metrics))
        names = dm.label_names
        metrics["test/property_r2"] = {n: metrics.get(f"test/property_r2_{n}", float("nan")) for n in names}
        required = REQUIRED_METRICS + (CURVE_KEYS if dm.target == "nonlinear" else ())
        for key in required:  # e.g. validity/novel_unique is undefined when nothing decodes validly
            metrics.setdefault(key, float("nan"))
    metrics["best_checkpoint"] = best or test_only_ckpt or None
    metrics = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}
    metrics["test/property_r2"] = {k: (None if not np.isfinite(v) else v)
                                   for k, v in metrics.get("test/property_r2", {}).items()} or None
    if trainer.is_global_zero:
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
        log.info("wrote %s", output_dir / "metrics.json")
    return metrics
