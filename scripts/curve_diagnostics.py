"""Where a nonlinear (curve) predictor's per-curve NRMSE comes from: the metrics by the shape of the true curve.

    .venv/bin/python scripts/curve_diagnostics.py RUN_OR_CKPT [--split test] [--data DIR]

Loads the checkpoint (a run folder: its best checkpoint from metrics.json; trained with
``data.target=nonlinear``), predicts the curves of the ``--split`` rows with valid nonlinear labels of the
data set it records (or ``--data``), prints :func:`~trussvae.models.evaluation.curve_metrics` and then,
by quintile of the true curve's *relative range* (range / max stress: ~0 for a curve that plateaus from
its first point, ~1 for one that rises from near zero), the number of curves and their per-curve NRMSE
(RMSE / range of the true curve, the issue's definition: mean, median), the same RMSE over the curve's
max stress, and the median relative error of the first point. docs/model.md, "Nonlinear curves".
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from trussvae.data.splits import split_path
from trussvae.io.store import LatticeStore
from trussvae.models import load_network
from trussvae.models.checkpoint import run_checkpoint
from trussvae.models.evaluation import curve_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a training run folder (best checkpoint from its metrics.json) or a .ckpt file")
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    ap.add_argument("--data", default=None, help="data set (default: the one the checkpoint records)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ckpt = run_checkpoint(args.run)
    net, info = load_network(ckpt)
    if net.target != "nonlinear":
        raise SystemExit(f"{ckpt} predicts {net.target!r} labels, not curves (train with data.target=nonlinear)")
    net.eval()
    data = args.data or info["data_dir"]
    store = LatticeStore(data)
    labels = store.load_labels("nonlinear", allow_partial=True)
    y = np.asarray(labels["stress"], np.float64)
    ok = np.asarray(labels["ok"], bool) & np.all(np.isfinite(y), axis=1)
    rows = np.load(split_path(data, info.get("split_seed") or 0, info.get("split") or "random"))[args.split]
    rows = rows[ok[rows]]
    s = store.load_structures()
    adj = torch.as_tensor(s["adjacency"][rows], dtype=torch.float32)
    off = torch.as_tensor(s["offsets"][rows], dtype=torch.float32)
    with torch.no_grad():
        _, y_norm = net.predict_inputs(adj, off)
        pred = net.denormalise(y_norm).double().numpy()
    true = y[rows]
    print(f"{ckpt}: {len(rows)} {args.split} curves of {data}")
    for k, v in curve_metrics(true, pred, args.split).items():
        print(f"  {k}: {v:.4g}")
    rmse = np.sqrt(((pred - true) ** 2).mean(axis=1))
    rng = true.max(axis=1) - true.min(axis=1)
    top = np.abs(true).max(axis=1)
    rel_range = rng / top
    first = np.abs(pred[:, 0] - true[:, 0]) / np.abs(true[:, 0])
    edges = np.quantile(rel_range, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    print("relative range (range/max)   curves  NRMSE/range mean  median   RMSE/max mean  first point median rel. err.")
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (rel_range >= lo) & (rel_range <= hi)
        nr = rmse[m] / rng[m]
        print(f"  {lo:5.3f} - {hi:5.3f}            {m.sum():6d}  {nr.mean():16.3f}  {np.median(nr):6.3f}  "
              f"{(rmse[m] / top[m]).mean():13.3f}  {np.median(first[m]):.3f}")
    r = rmse / top
    print(f"all: RMSE / max stress of the true curve, mean {r.mean():.4f}, median {np.median(r):.4f}")
    nr = np.sort(rmse / np.maximum(rng, 1e-300))[::-1]
    for frac in (0.01, 0.05, 0.2):
        k = max(1, int(round(frac * len(nr))))
        print(f"the worst {frac:.0%} of the curves carry {nr[:k].sum() / nr.sum():.1%} of the per-curve NRMSE mean; "
              f"without them the mean is {nr[k:].mean():.4f}")


if __name__ == "__main__":
    main()
