"""Measure the levers of issue 15 (symmetry augmentation, test-time averaging, admissible predictions,
learned prior) one at a time on a subset of a labelled store, for a fixed time budget.

    PYTHONPATH=src python benchmarks/levers.py --data /work/data/lattices_seed0 --n-train 20000 \\
        --minutes 4 --out /tmp/lv/base.json [model.augment=all model.admissible=true ...]

The model is ``conf/model/vae.yaml`` with the given ``model.<key>=<value>`` overrides (values parsed as
YAML), trained on the first ``--n-train`` rows of the training split (the split is random, so this is a
random subset) with validation on ``--n-val`` rows, time-limited (``trainer.max_time``; the schedules
follow it), then the learned prior is fitted to the training subset and the test metrics are computed
on ``--n-test`` test rows with TTA on (so plain and TTA R^2 are both reported). No checkpointing: the
final weights are tested. Prints and writes the metrics as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml

from trussvae.data import TrussDataModule
from trussvae.data.datamodule import DenseBatchDataset
from trussvae.models import TrussVAE

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-val", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=5000)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("overrides", nargs="*", help="model.<key>=<value>")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model_cfg = yaml.safe_load((ROOT / "conf/model/vae.yaml").read_text())
    model_cfg.pop("target")
    for o in a.overrides:
        key, _, value = o.partition("=")
        if not key.startswith("model.") or not _:
            raise SystemExit(f"overrides are model.<key>=<value>, got {o!r}")
        model_cfg[key[len("model."):]] = yaml.safe_load(value)
    model_cfg.update(tta=True, prior_fit_samples=a.n_train, validity_every_n_epochs=0)
    pl.seed_everything(a.seed, workers=True)
    dm = TrussDataModule(a.data, target="linear", batch_size=512)
    dm.setup("fit")
    for stage, n in (("train", a.n_train), ("val", a.n_val), ("test", a.n_test)):
        t = dm.datasets[stage].tensors
        dm.datasets[stage] = DenseBatchDataset(**{k: v[:n] for k, v in t.items()})
    nz = dm.normalizer
    model = TrussVAE(**model_cfg, target="linear", n_properties=dm.n_properties, property_names=dm.label_names,
                     label_mean=nz.mean, label_std=nz.std, label_log_mask=nz.log_mask)
    trainer = pl.Trainer(max_time={"seconds": int(a.minutes * 60)}, max_epochs=100000, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    fit_s = time.perf_counter() - t0
    out = {"overrides": a.overrides, "epochs": trainer.current_epoch, "fit_minutes": fit_s / 60,
           "load_avg_end_of_fit": os.getloadavg()}
    if model.net.prior is not None:
        t0 = time.perf_counter()
        train = dm.datasets["train"].tensors
        rep = model.fit_prior(train["adj"], train["offsets"])
        out.update(prior_fit_seconds=time.perf_counter() - t0, prior_log_likelihood=rep["log_likelihood"],
                   prior_iterations=rep["iterations"])
    t0 = time.perf_counter()
    res = trainer.test(model, datamodule=dm, verbose=False)[0]
    out["test_seconds"] = time.perf_counter() - t0
    out.update({k: float(v) for k, v in res.items()})
    Path(a.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    keys = ["epochs", "test/property_r2_min_plain", "test/property_r2_min_tta", "test/property_admissible_fraction",
            "test/adjacency_accuracy", "test/node_r2_dof", "validity/raw", "validity/raw_learned_prior"]
    print(json.dumps({k: out.get(k) for k in keys}, indent=1))


if __name__ == "__main__":
    main()
