"""How much of a nonlinear label is set by the random imperfection: the noise floor of any curve predictor.

    python scripts/label_noise.py /work/data/lattices_seed0 [--chunk 0] [--n 1000] [--seeds 1 2] [--jobs 1]
                                  [--imperfection A] [--out FILE]

Recomputes the compression curves of the first ``n`` structures of structure chunk ``chunk`` with exactly the
FE settings of the data set's nonlinear labels (meta.json), once with the labels' imperfection seed (checked
against the stored labels where that chunk is labelled: the labels are deterministic) and once per extra seed
(another draw of the same imperfection amplitude, or of ``--imperfection A``). A predictor sees the structure,
not the draw, so the curve variation between draws is noise to it: with ``sigma`` the spread of a curve
point over draws, the best possible predictor (the mean over draws) has error ``sigma`` against the labels,
two draws differ by ``sqrt(2) sigma``. Reported with the predictor's own metrics
(:func:`trussvae.models.evaluation.curve_metrics`, labels = the "true" curves):

* ``pairwise``: another draw as the prediction of the labels (per extra seed);
* ``floor_estimate``: ``pairwise / sqrt(2)`` (exact for the RMS-type global NRMSE, the per-curve mean and
  median scale the same way when the spread is similar across a curve's points);
* ``mean_of_others`` (two or more extra seeds, K of them): their mean as the prediction, whose error is
  ``sigma sqrt(1 + 1/K)``, and that divided by ``sqrt(1 + 1/K)``;
* the fraction of curves whose per-curve NRMSE between two draws exceeds 1 %, 4.5 % and 10 %.

Only curves that converged to the full strain in every draw enter. Writes JSON (default
``<data>/label_noise_chunk<chunk>_n<n>.json``) after every draw, so an interrupted run keeps what it computed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.design_space.truss_graph import arrays_to_graph  # noqa: E402
from trussvae.fem.settings import NONLINEAR, settings_from_meta  # noqa: E402
from trussvae.io.store import LatticeStore  # noqa: E402
from trussvae.models.evaluation import curve_metrics  # noqa: E402

THRESHOLDS = (0.01, 0.045, 0.10)


def _summary(labels, pred, scale=1.0):
    """The three NRMSE keys of :func:`curve_metrics` (labels as the truth), divided by ``scale``."""
    m = curve_metrics(labels, pred, prefix="x")
    return {k: m[f"x/curve_nrmse_{k}"] / scale for k in ("mean", "median", "global")}


def noise_metrics(labels: np.ndarray, others: list[np.ndarray]) -> dict:
    """Noise-floor metrics of the label curves ``labels`` (n, m) against other imperfection draws of the same
    structures (each (n, m); all finite). See the module doc."""
    labels = np.asarray(labels, np.float64)
    if not others:
        raise ValueError("noise_metrics needs at least one other draw")
    others = [np.asarray(o, np.float64) for o in others]
    for o in others:
        if o.shape != labels.shape:
            raise ValueError(f"draw shapes differ: {o.shape} vs {labels.shape}")
    curve_range = labels.max(axis=1) - labels.min(axis=1)
    out = {"n_curves": int(len(labels)), "pairwise": [], "floor_estimate": []}
    for o in others:
        pw = _summary(labels, o)
        out["pairwise"].append(pw)
        out["floor_estimate"].append({k: v / np.sqrt(2.0) for k, v in pw.items()})
        per_curve = np.sqrt(((o - labels) ** 2).mean(axis=1)) / np.where(curve_range > 0, curve_range, np.inf)
        out["pairwise"][-1]["fraction_above"] = {f"{t:g}": float((per_curve > t).mean()) for t in THRESHOLDS}
    if len(others) >= 2:
        k = len(others)
        mean = np.mean(others, axis=0)
        out["mean_of_others"] = _summary(labels, mean)
        out["mean_of_others_floor_estimate"] = _summary(labels, mean, scale=np.sqrt(1.0 + 1.0 / k))
    return out


def _curves(fe, frames, jobs):
    t = time.perf_counter()
    stress, ok, _ = fe.evaluate(frames, n_jobs=jobs)
    return np.asarray(stress, np.float64), np.asarray(ok, bool), time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="data set with nonlinear labels recorded in meta.json")
    ap.add_argument("--chunk", type=int, default=0, help="structure chunk (default 0)")
    ap.add_argument("--n", type=int, default=1000, help="its first n structures (default 1000)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="other imperfection seeds")
    ap.add_argument("--imperfection", type=float, default=None,
                    help="imperfection amplitude of the other draws (default: the labels')")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--out", default=None, help="JSON output")
    args = ap.parse_args(argv)
    store = LatticeStore(args.data)
    fe = settings_from_meta(store.meta, NONLINEAR)
    if fe.seed in args.seeds:
        raise SystemExit(f"--seeds must differ from the labels' imperfection seed {fe.seed}")
    if args.n <= 0:
        raise SystemExit(f"--n must be positive, got {args.n}")
    chunk = store.read_structure_chunk(args.chunk)
    rows = np.arange(min(args.n, len(chunk["adjacency"])))
    frames = [arrays_to_graph(chunk["adjacency"][i], chunk["offsets"][i]).to_frame(
        relative_density=fe.relative_density) for i in rows]
    out_path = Path(args.out or Path(args.data) / f"label_noise_chunk{args.chunk}_n{len(rows)}.json")
    report = {"data": str(args.data), "chunk": args.chunk, "rows": len(rows), "fe": asdict(fe),
              "other_seeds": args.seeds, "other_imperfection": args.imperfection or fe.imperfection,
              "seconds": {}}
    labels, ok, secs = _curves(fe, frames, args.jobs)
    report["seconds"][str(fe.seed)] = round(secs, 1)
    if args.chunk in store.label_chunks(NONLINEAR):  # the labels are deterministic: the same curves again
        stored = store.read_label_chunk(NONLINEAR, args.chunk)["stress"][rows]
        both = np.isfinite(stored) & np.isfinite(labels)
        scale = np.nanmax(np.abs(stored), axis=1, keepdims=True)
        report["recomputed_vs_stored_max_rel"] = float(np.max(np.abs(labels - stored)[both] /
                                                            np.broadcast_to(scale, stored.shape)[both]))
        print(f"recomputed labels vs stored: max difference / peak {report['recomputed_vs_stored_max_rel']:.2e}")
    others, oks = [], [ok]
    other_fe = fe if args.imperfection is None else replace(fe, imperfection=float(args.imperfection))
    for s in args.seeds:
        st, o, secs = _curves(replace(other_fe, seed=int(s)), frames, args.jobs)
        others.append(st)
        oks.append(o)
        report["seconds"][str(s)] = round(secs, 1)
        good = np.logical_and.reduce(oks)
        report["converged_all"] = int(good.sum())
        report.update(noise_metrics(labels[good], [x[good] for x in others]))
        out_path.write_text(json.dumps(report, indent=1))
        pw = report["pairwise"][-1]
        print(f"seed {s} ({secs:.0f} s): {good.sum()}/{len(rows)} curves; pairwise per-curve NRMSE mean "
              f"{pw['mean']:.4f} / median {pw['median']:.4f} / global {pw['global']:.4f}; floor estimate "
              f"{report['floor_estimate'][-1]['mean']:.4f} / {report['floor_estimate'][-1]['median']:.4f} / "
              f"{report['floor_estimate'][-1]['global']:.4f}", flush=True)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
