"""Training throughput of the VAE (MLP vs GNN vs physics-aware frame adjacency encoder), CPU.

    python benchmarks/bench_vae.py [--threads 1] [--steps 20] [--batch 1024] [--encoders mlp gnn frame]

The model is built from ``conf/model/vae.yaml`` (the default configuration; the GNN and frame
variants only switch ``encoder``: ``gnn_hidden``/``gnn_layers`` of that file are the width and
depth of both, as in ``conf/model/vae_gnn.yaml`` and ``conf/model/vae_frame.yaml``).

Uses the real input pipeline (in-memory tensors, BatchIndexSampler, DataLoader with
batch_size=None) on structures from the generator, and a full optimiser step (forward, loss
eq. 4, backward, Adam). Prints samples/s and the epoch time extrapolated to 1,000,000 structures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from trussvae.data.datamodule import BatchIndexSampler, DenseBatchDataset
from trussvae.generation import generate_structures
from trussvae.models import TrussVAE


def _data(n: int) -> DenseBatchDataset:
    graphs = generate_structures(min(n, 2048), seed=0)
    adj, off = zip(*(g.to_vae_input() for g in graphs))
    reps = -(-n // len(graphs))
    adj = torch.as_tensor(np.tile(np.stack(adj), (reps, 1))[:n])
    off = torch.as_tensor(np.tile(np.stack(off), (reps, 1))[:n])
    return DenseBatchDataset(adj=adj, offsets=off, y=torch.randn(n, 9), index=torch.arange(n))


def _default_model_kwargs() -> dict:
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.load(Path(__file__).resolve().parents[1] / "conf/model/vae.yaml"))
    cfg.pop("defaults", None)
    cfg.pop("target", None)
    return cfg


def bench(encoder: str, ds: DenseBatchDataset, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = TrussVAE(**{**_default_model_kwargs(), "encoder": encoder}, n_properties=9)
    opt = torch.optim.Adam(model.parameters(), lr=model.hparams.lr)
    loader = DataLoader(ds, sampler=BatchIndexSampler(len(ds), batch, shuffle=True), batch_size=None)
    it = iter(loader)
    done, t0 = 0, None
    for step in range(steps + 2):
        b = next(it)
        if step == 2:  # two warm-up steps
            t0, done = time.perf_counter(), 0
        out = model(b["adj"], b["offsets"])
        parts = model.losses(b, out)
        h = model.hparams
        loss = (h.w_adj * parts["adjacency"] + h.w_feat * parts["features"] + h.w_prop * parts["property"]
                + h.beta_max * parts["kl"] + h.w_mmd * parts.get("mmd", 0.0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += len(b["adj"])
    return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--encoders", nargs="+", default=["mlp", "gnn", "frame"], choices=["mlp", "gnn", "frame"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ds = _data(a.batch * (a.steps + 2))
    print(f"torch {torch.__version__}, {a.threads} thread(s), batch {a.batch}")
    slower = {"mlp": 1, "gnn": 4, "frame": 8}  # fewer timed steps for the slower encoders
    for enc in a.encoders:
        steps = max(a.steps // slower[enc], 3)
        sps = bench(enc, ds, a.batch, steps)
        print(f"{enc:5s}: {sps:9.0f} samples/s  ->  epoch of 1,000,000 structures: {1e6 / sps / 60:6.1f} min "
              "(training steps only)")


if __name__ == "__main__":
    main()
