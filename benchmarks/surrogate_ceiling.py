"""How well can a plain supervised MLP predict the 9 stiffness components from the VAE's raw input?

A diagnostic for issue 5's property target (R^2 >= 0.99): the VAE's predictor reads the latent mean
mu, a compressed view of the same input, so a direct surrogate on the raw input (351 adjacency
entries + 27 offsets) in the same time budget is an optimistic ceiling for it. ``--affine`` adds
the affine (Voigt-type) stretching stiffness of the truss as features: per strut direction n and
length L, sum(L n_i^2 n_j^2) / sum(L) for the six (ij) pairs, and their logs. ``--frame`` adds the
(trainable) pooled output of the physics-aware encoder
(:class:`~trussvae.models.frame_encoder.FrameGraphEncoder`: message passing over the full mirrored
frame, ``--frame-hidden``, ``--frame-layers``), trained jointly with the MLP; ``--epochs`` caps the
number of epochs (a fixed sample budget instead of a time budget).

    python benchmarks/surrogate_ceiling.py --data /work/data/lattices_seed0 --minutes 6 [--affine] [--frame]
        [--epochs N] [--threads 1]

Prints the validation R^2 (normalised labels = physical scale up to an affine map) after every
epoch, and the per-component test R^2 at the end.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from trussvae.data.datamodule import TrussDataModule
from trussvae.data.graphs import positions_from_offsets
from trussvae.design_space import octant
from trussvae.models.frame_encoder import FrameGraphEncoder


def features(adj: torch.Tensor, offsets: torch.Tensor, affine: bool) -> torch.Tensor:
    x = [adj, offsets]
    if affine:
        v = positions_from_offsets(offsets)
        v = v[:, octant.TRIU_J] - v[:, octant.TRIU_I]                   # (B, 351, 3)
        length = v.norm(dim=-1).clamp_min(1e-9)
        n2 = (v / length[..., None]) ** 2
        q = torch.stack([n2[..., 0] ** 2, n2[..., 1] ** 2, n2[..., 2] ** 2, n2[..., 0] * n2[..., 1],
                         n2[..., 0] * n2[..., 2], n2[..., 1] * n2[..., 2]], -1)
        w = adj * length
        aff = (w[..., None] * q).sum(1) / w.sum(1, keepdim=True).clamp_min(1e-9)
        x += [10 * aff, torch.log(aff.clamp_min(1e-6))]
    return torch.cat(x, 1)


def r2(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1 - ((pred - y) ** 2).mean(0) / y.var(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a lattice store with linear labels (python homogenize.py)")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--affine", action="store_true", help="add the affine stretching-stiffness features")
    ap.add_argument("--frame", action="store_true", help="add the trainable frame encoder's pooled features")
    ap.add_argument("--frame-hidden", type=int, default=64)
    ap.add_argument("--frame-layers", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None, help="stop after this many epochs (default: time only)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dm = TrussDataModule(args.data)
    dm.setup()
    sets = {s: dm.datasets[s].tensors for s in ("train", "val", "test")}
    X = {s: features(t["adj"], t["offsets"], args.affine) for s, t in sets.items()}
    Y = {s: t["y"] for s, t in sets.items()}
    d, k = X["train"].shape[1], Y["train"].shape[1]
    frame = FrameGraphEncoder(args.frame_hidden, args.frame_layers, 1) if args.frame else None
    if frame is not None:
        d += frame.head[0].in_features  # the pooled nodes + global physics features
    act = torch.nn.SiLU
    mlp = torch.nn.Sequential(torch.nn.Linear(d, 512), torch.nn.LayerNorm(512), act(),
                              torch.nn.Linear(512, 256), torch.nn.LayerNorm(256), act(),
                              torch.nn.Linear(256, 128), act(), torch.nn.Linear(128, k))
    params = list(mlp.parameters()) + ([p for n_, p in frame.named_parameters() if not n_.startswith("head")]
                                       if frame is not None else [])

    def net_(s: str, idx=slice(None)) -> torch.Tensor:
        x = X[s][idx]
        if frame is not None:
            x = torch.cat([x, frame.pooled(sets[s]["adj"][idx], sets[s]["offsets"][idx])], 1)
        return mlp(x)

    def net(s: str, idx=slice(None)) -> torch.Tensor:  # evaluation in chunks (bounded memory)
        rows = torch.arange(len(X[s]))[idx]
        return torch.cat([net_(s, r) for r in rows.split(4096)])

    opt = torch.optim.Adam(params, 2e-3)
    budget = 60 * args.minutes
    t0, epoch, n = time.time(), 0, len(X["train"])
    print(f"{n} training rows, {d} input features{' (frame encoder)' if frame is not None else ''}, "
          f"budget {args.minutes} min / {args.epochs} epochs, {args.threads} thread(s)")
    while time.time() - t0 < budget and (args.epochs is None or epoch < args.epochs):
        for i, idx in enumerate(torch.randperm(n).split(512)):
            frac = min((time.time() - t0) / budget, 1.0)
            if args.epochs is not None:  # cosine over whichever budget ends first
                frac = max(frac, (epoch + i * 512 / n) / args.epochs)
            for g in opt.param_groups:  # cosine decay over the wall-time budget
                g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * frac))
            loss = ((net_("train", idx) - Y["train"][idx]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch += 1
        with torch.no_grad():
            val = r2(net("val"), Y["val"])
            train = r2(net("train", slice(0, 20000)), Y["train"][:20000])
        print(f"epoch {epoch:3d}  {time.time() - t0:6.0f} s  val R2 min {val.min():.4f} mean {val.mean():.4f}  "
              f"train R2 min {train.min():.4f}", flush=True)
    with torch.no_grad():
        test = r2(net("test"), Y["test"])
    print("test R2:", ", ".join(f"{name} {float(v):.4f}" for name, v in zip(dm.label_names, test)))
    print(f"test R2 min {float(test.min()):.4f}")


if __name__ == "__main__":
    main()
