"""How well can a network predict the compression curves when it is not the VAE's curve head? A ceiling probe.

A diagnostic for issue 13's predictor target (per-curve NRMSE mean <= 4.5 %). The VAE's curve head reads the
latent mean ``mu`` (detached) and the physics features of the structure (Ritz components, buckling analysis),
and predicts each curve relative to its Ritz linear estimate (``model.curve_baseline=ritz``). This probe
trains a plain MLP on the same split, labels, target and loss as a trained nonlinear run (its checkpoint and
``.hydra/config.yaml``: the log-normalised stresses, the curves ``E3_R eps_k exp(h_k)``, the mean squared error
of the normalised stresses), from

* ``--inputs latent``: the run's ``mu`` (frozen encoder) + the physics head inputs: the head alone, retrained
  (with ``--hidden`` wider than the run's), i.e. what the latent code and the features hold;
* ``--inputs raw``: the adjacency (351) + offsets (27) + the physics head inputs: no latent bottleneck;
* ``--inputs both``.

``--strut-features`` adds a load-redistribution estimate that none of the inputs carries directly
(:func:`trussvae.data.physics.redistribution_features`, the labels' settings): from the cell's linear response
to the labels' compression, per label strain the share of the axial strain energy in the struts already past
their Euler strain (pinned and fixed ends), the axial share of the cell's energy and the first strut's buckling
strain (28 columns; computed for the rows used, ~2 ms a structure; a response along e3, so unchanged by the
operations of ``--augment``). ``--postbuckling`` adds the sequentially linear buckled-strut curve
(:func:`trussvae.data.physics.postbuckling_features`: the struts buckle one by one at their Euler strain and the
load redistributes; its secant modulus at each label strain, pinned and fixed ends: 26 columns, ~3 ms a
structure, also unchanged by those operations). ``--fe-points k`` adds the nonlinear state itself: the first k
points of each FE curve (the normalised label stresses at ``LABEL_STRAINS[:k]``, which a run of the labels'
solver to ``LABEL_STRAINS[k - 1]`` reproduces: the same path, ~22 % of a curve's time for k = 2, ~36 % for
k = 3, ~48 % for k = 4) as inputs; the metrics still count all 13 points.
``--max-train k``: the first k training rows (an A/B at a smaller size).

``--augment`` trains on the 16 symmetry operations that keep e3 (as the run does: ``model.augment=all``), one
random operation per sample. Prints the validation per-curve NRMSE after every epoch and, at the end, the test
curve metrics (:func:`trussvae.models.evaluation.curve_metrics`) and those of 20,000 training curves (bias or
variance), and writes them to ``RUN/curve_ceiling_<inputs>[_struts][_<k>].json``.

    python benchmarks/curve_ceiling.py /work/runs/nonlinear_200k_buckling2_90min --inputs raw --minutes 45
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from trussvae.data.physics import postbuckling_features, redistribution_features
from trussvae.models import TrussVAE
from trussvae.models.augment import allowed_operations
from trussvae.models.checkpoint import run_checkpoint
from trussvae.models.evaluation import curve_metrics
from trussvae.models.network import physics_head_inputs
from trussvae.training import run_datamodule


def strut_features(adj: torch.Tensor, offsets: torch.Tensor, fe: dict, compute=redistribution_features) -> np.ndarray:
    """(n, 28) load-redistribution estimate (:func:`trussvae.data.physics.redistribution_features`, or the
    columns of ``compute``); zeros where there is no frame."""
    t0 = time.time()
    out = []
    for s in range(0, len(adj), 10000):
        out.append(compute(adj[s:s + 10000].numpy(), offsets[s:s + 10000].double().numpy(), fe))
        print(f"  strut features {min(s + 10000, len(adj))}/{len(adj)} ({time.time() - t0:.0f} s)", flush=True)
    return np.nan_to_num(np.concatenate(out), nan=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="a trained nonlinear run (checkpoints/, .hydra/config.yaml)")
    ap.add_argument("--inputs", choices=["latent", "raw", "both"], default="raw")
    ap.add_argument("--hidden", type=int, nargs="+", default=[512, 256, 128])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--epochs", type=int, default=None, help="stop after this many epochs (default: time only)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--augment", action="store_true", help="one of the 16 e3-keeping operations per sample")
    ap.add_argument("--strut-features", action="store_true", help="add the strut load-redistribution estimate")
    ap.add_argument("--postbuckling", action="store_true", help="add the sequentially linear buckled-strut curve")
    ap.add_argument("--fe-points", type=int, default=0,
                    help="add the first k points of each FE curve (its normalised stresses) as inputs")
    ap.add_argument("--max-train", type=int, default=None, help="use the first k training rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if not 0 <= a.fe_points < 13:
        raise SystemExit(f"--fe-points must be in [0, 12], got {a.fe_points}")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = TrussVAE.load_from_checkpoint(run_checkpoint(str(a.run)), map_location="cpu").eval()
    net = model.net
    if net.target != "nonlinear" or net.curve_baseline == "none":
        raise SystemExit(f"{a.run}: not a nonlinear run with curve_baseline=ritz (target {net.target!r}, "
                         f"curve_baseline {net.curve_baseline!r})")
    if a.strut_features and net.curve_features in ("redistribution", "postbuckling"):
        raise SystemExit(f"{a.run} already reads the redistribution features (model.curve_features="
                         f"{net.curve_features}): drop --strut-features")
    if a.postbuckling and net.curve_features == "postbuckling":
        raise SystemExit(f"{a.run} already reads the buckled-strut curve (model.curve_features=postbuckling): "
                         "drop --postbuckling")
    dm = run_datamodule(a.run, model)
    dm.setup()
    sets = {s: dm.datasets[s].tensors for s in ("train", "val", "test")}
    if a.max_train:
        sets["train"] = {k: v[:a.max_train] for k, v in sets["train"].items()}
    settings = model.hparams.get("curve_fe") or {}
    ops = torch.as_tensor(allowed_operations("all", "nonlinear"))

    @torch.no_grad()
    def latent(adj, offsets, phys):
        return torch.cat([net.encode(adj[s:s + 4096], offsets[s:s + 4096], phys[s:s + 4096])[0]
                          for s in range(0, len(adj), 4096)])

    def features(adj, offsets, phys):
        parts = []
        if a.inputs in ("latent", "both"):
            parts.append(latent(adj, offsets, phys))
        if a.inputs in ("raw", "both"):
            parts += [adj, offsets]
        parts.append(physics_head_inputs(phys, net.curve_features))
        return torch.cat(parts, 1)

    t0 = time.time()
    X = {s: features(t["adj"], t["offsets"], t["phys"]) for s, t in sets.items()}
    extra = {s: torch.zeros(len(x), 0) for s, x in X.items()}
    if a.strut_features:  # invariant under the e3-keeping operations: computed once, kept under augmentation
        extra = {s: torch.as_tensor(strut_features(sets[s]["adj"], sets[s]["offsets"], settings), dtype=x.dtype)
                 for s, x in X.items()}
    if a.postbuckling:
        extra = {s: torch.cat([e, torch.as_tensor(strut_features(sets[s]["adj"], sets[s]["offsets"], settings,
                                                                 postbuckling_features), dtype=e.dtype)], 1)
                 for s, e in extra.items()}
    if a.fe_points:  # the labels' own first points: what the FE run to LABEL_STRAINS[k - 1] gives (the same path)
        extra = {s: torch.cat([e, sets[s]["y"][:, :a.fe_points].to(e.dtype)], 1) for s, e in extra.items()}
    X = {s: torch.cat([x, extra[s]], 1) for s, x in X.items()}
    print(f"features {X['train'].shape} in {time.time() - t0:.0f} s", flush=True)
    dims = [X["train"].shape[1], *a.hidden]
    layers = []
    for i in range(len(dims) - 1):
        layers += [torch.nn.Linear(dims[i], dims[i + 1]), torch.nn.LayerNorm(dims[i + 1]), torch.nn.SiLU()]
    mlp = torch.nn.Sequential(*layers, torch.nn.Linear(dims[-1], 13))
    opt = torch.optim.Adam(mlp.parameters(), a.lr)

    def curves(x, phys):  # physical stresses (float64) and their normalised values
        phys_curve = net.anchored_curves(mlp(x), phys)
        return phys_curve, net.normalise(phys_curve).float()

    @torch.no_grad()
    def evaluate(s, rows=None):
        t = sets[s]
        idx = torch.arange(len(X[s])) if rows is None else rows
        pred = torch.cat([curves(X[s][r], t["phys"][r])[0] for r in idx.split(4096)])
        true = net.denormalise(t["y"][idx].double())
        return curve_metrics(true.numpy(), pred.numpy(), prefix=s)

    budget, epoch, n = 60 * a.minutes, 0, len(X["train"])
    tr = sets["train"]
    print(f"{n} training curves, inputs {a.inputs} ({dims[0]}), hidden {a.hidden}, budget {a.minutes} min / "
          f"{a.epochs} epochs, augment {a.augment}", flush=True)
    gen = torch.Generator().manual_seed(a.seed)
    history = []
    t0 = time.time()
    while time.time() - t0 < budget and (a.epochs is None or epoch < a.epochs):
        mlp.train()
        for i, idx in enumerate(torch.randperm(n, generator=gen).split(a.batch)):
            frac = min((time.time() - t0) / budget, 1.0)
            if a.epochs is not None:
                frac = max(frac, (epoch + i * a.batch / n) / a.epochs)
            for g in opt.param_groups:  # cosine decay over whichever budget ends first
                g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * frac))
            adj, off, phys, y = tr["adj"][idx], tr["offsets"][idx], tr["phys"][idx], tr["y"][idx]
            if a.augment:  # one random e3-keeping operation per sample (as TrussVAE.augment_batch)
                op = ops[torch.randint(len(ops), (len(idx),), generator=gen)]
                adj, off = net.symmetry.inputs(adj, off, op)
                phys = net.symmetry.orthotropic(phys, op)
                x = torch.cat([features(adj, off, phys), extra["train"][idx]], 1)
            else:
                x = X["train"][idx]
            loss = ((curves(x, phys)[1] - y) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch += 1
        mlp.eval()
        val = evaluate("val")
        vm = val["val/curve_nrmse_mean"]
        history.append({"epoch": epoch, "seconds": time.time() - t0, "val/curve_nrmse_mean": vm})
        print(f"epoch {epoch:3d}  {time.time() - t0:6.0f} s  val per-curve NRMSE mean {vm:.4f} "
              f"median {val['val/curve_nrmse_median']:.4f} global {val['val/curve_nrmse_global']:.4f}", flush=True)
    test = evaluate("test")
    train = evaluate("train", torch.as_tensor(np.sort(np.random.default_rng(a.seed).choice(n, min(n, 20000), False))))
    out = {"run": str(a.run), "inputs": a.inputs, "hidden": a.hidden, "augment": a.augment,
           "strut_features": a.strut_features, "postbuckling": a.postbuckling,
           "fe_points": a.fe_points, "epochs": epoch,
           "minutes": (time.time() - t0) / 60, "lr": a.lr, "batch": a.batch, "seed": a.seed, "n_train": n,
           **{k: v for k, v in test.items() if "nrmse" in k or k.endswith("r2_min")},
           **{k: v for k, v in train.items() if "nrmse" in k}, "history": history}
    print({k: round(v, 4) for k, v in out.items() if isinstance(v, float)}, flush=True)
    tag = (f"{a.inputs}{'_struts' if a.strut_features else ''}{'_postbuckling' if a.postbuckling else ''}"
           f"{f'_fe{a.fe_points}' if a.fe_points else ''}{f'_{a.max_train}' if a.max_train else ''}")
    (a.run / f"curve_ceiling_{tag}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
