"""How much do several trained curve predictors gain by averaging? (issue 13, docs/model.md)

    python scripts/curve_ensemble.py RUN [RUN ...] [--out FILE]

For each trained nonlinear run (a folder with ``checkpoints/`` and ``.hydra/config.yaml``) the predictions of its
own test split, each structure once (``plain``: the headline ``test/curve_*`` metrics) and averaged over the 16
symmetry operations that keep e3 (``tta``: ``test/curve_tta_*``), are computed with the run's own inputs (its
physics features) and cached in ``RUN/test_predictions.npz`` (with the checkpoint they came from). The runs must
share the test split (the same curves, checked). Printed and written as JSON (default ``ensemble_<n>runs.json`` in
the first run): every run's metrics (:func:`trussvae.models.evaluation.curve_metrics`) and those of the average
of all runs' curves, arithmetic and geometric (the models are trained on log stresses), plain and TTA.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from trussvae.models.evaluation import curve_metrics

AVERAGES = ("mean", "geometric")


def average_curves(preds, how: str = "mean") -> np.ndarray:
    """The average (n, m) of predicted curves ``preds`` (a sequence of (n, m) arrays): ``"mean"`` or
    ``"geometric"`` (of the stresses, which are positive)."""
    if how not in AVERAGES:
        raise ValueError(f"how must be one of {AVERAGES}, got {how!r}")
    if len(preds) == 0:
        raise ValueError("average_curves needs at least one prediction")
    stack = np.stack([np.asarray(p, np.float64) for p in preds])
    if how == "mean":
        return stack.mean(0)
    if np.any(stack <= 0):
        raise ValueError("the geometric average needs positive stresses")
    return np.exp(np.log(stack).mean(0))


def ensemble_metrics(true, preds: dict) -> dict:
    """Per-curve mean / median and global NRMSE of each prediction in ``preds`` (name -> (n, m) curves) and of
    their averages, against the curves ``true`` (n, m); the geometric one is None unless every stress is positive
    (the models' curves ``E3_R eps exp(h)`` are)."""
    true = np.asarray(true, np.float64)
    for name, p in preds.items():
        if np.shape(p) != true.shape:
            raise ValueError(f"{name}: predictions of shape {np.shape(p)}, the test curves are {true.shape}")

    def keys(pred):
        m = curve_metrics(true, pred, prefix="t")
        return {k: float(m[f"t/curve_nrmse_{k}"]) for k in ("mean", "median", "global")}

    out = {"members": {name: keys(p) for name, p in preds.items()}}
    positive = all(np.all(np.asarray(p) > 0) for p in preds.values())
    out.update({f"ensemble_{how}": keys(average_curves(list(preds.values()), how)) if how == "mean" or positive
                else None for how in AVERAGES})
    return out


@torch.no_grad()
def held_out_predictions(run: str | Path, batch: int = 1024) -> dict[str, np.ndarray]:
    """``true``, ``plain`` and ``tta`` (n, 13) physical test curves of a trained nonlinear run (cached in
    ``run/test_predictions.npz``, recomputed when the run's checkpoint changed)."""
    from trussvae.models import TrussVAE
    from trussvae.models.checkpoint import run_checkpoint
    from trussvae.models.evaluation import _physical, tta_predictions
    from trussvae.training import run_datamodule

    run = Path(run)
    ckpt = str(run_checkpoint(str(run)))
    cache = run / "test_predictions.npz"
    if cache.exists():
        d = np.load(cache)
        if "checkpoint" in d.files and str(d["checkpoint"]) == ckpt:
            return {k: d[k] for k in ("true", "plain", "tta")}
    model = TrussVAE.load_from_checkpoint(ckpt, map_location="cpu").eval()
    net = model.net
    if net.target != "nonlinear":
        raise ValueError(f"{run}: not a nonlinear run (target {net.target!r})")
    dm = run_datamodule(run, model)
    dm.setup()
    held = dm.datasets["test"].tensors
    phys = held.get("phys")
    plain = [_physical(net, net.predict_inputs(held["adj"][s:s + batch], held["offsets"][s:s + batch],
                                               None if phys is None else phys[s:s + batch])[1])
             for s in range(0, len(held["adj"]), batch)]
    out = {"true": _physical(net, held["y"]), "plain": np.concatenate(plain),
           "tta": tta_predictions(net, held, batch)}
    np.savez(cache, checkpoint=ckpt, **out)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="trained nonlinear runs with the same test split")
    ap.add_argument("--out", type=Path, default=None, help="JSON output")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [str(r) for r in args.runs]
    if len(set(names)) != len(names):
        raise SystemExit("a run is given twice")
    preds, true = {}, None
    for run in args.runs:
        p = held_out_predictions(run)
        if true is not None and (p["true"].shape != true.shape or not np.allclose(p["true"], true, rtol=1e-6)):
            raise SystemExit(f"{run}: its test curves differ from {args.runs[0]}'s (not the same split)")
        true = p["true"]
        preds[str(run)] = p
    report = {"runs": names, "n_test": int(len(true))}
    for kind in ("plain", "tta"):
        report[kind] = ensemble_metrics(true, {n: p[kind] for n, p in preds.items()})
        for name, m in [*report[kind]["members"].items(), *((k, v) for k, v in report[kind].items()
                                                              if k.startswith("ensemble") and v)]:
            print(f"{kind:5s} {Path(name).name:45s} per-curve mean {m['mean']:.4f} median {m['median']:.4f} "
                  f"global {m['global']:.4f}")
    out = args.out or args.runs[0] / f"ensemble_{len(names)}runs.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
