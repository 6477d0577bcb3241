"""Offset reconstruction of a trained model by node type (edge / face / body), in our and the paper's units.

    .venv/bin/python scripts/offset_diagnostics.py RUN_OR_CKPT [--n 5000] [--split test]

Loads the checkpoint (a run folder: its best checkpoint from metrics.json), takes the first ``--n``
structures of the ``--split`` split of the data set the checkpoint records, decodes them from z = mu and
prints, per node type, the active offset DOFs per structure, R^2 / RMSE over those DOFs and the spread
of the true offsets; then the strict all-DOF R^2 (``node_r2_dof``) and the paper's per-axis R^2
(:mod:`trussvae.models.paper_metrics`). docs/model.md, "Why the offsets lag".
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from trussvae.data.graphs import active_dofs
from trussvae.data.splits import split_path
from trussvae.design_space import octant
from trussvae.io.store import LatticeStore
from trussvae.models import load_network
from trussvae.models.checkpoint import run_checkpoint
from trussvae.models.paper_metrics import AXES, paper_offsets


def _r2(t: np.ndarray, p: np.ndarray) -> float:
    return float(1.0 - ((t - p) ** 2).sum() / ((t - t.mean()) ** 2).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a training run folder (best checkpoint from its metrics.json) or a .ckpt file")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    ckpt = run_checkpoint(args.run)
    net, info = load_network(ckpt)
    net.eval()
    data = info["data_dir"]
    rows = np.load(split_path(data, info.get("split_seed") or 0, info.get("split") or "random"))[args.split][:args.n]
    s = LatticeStore(data).load_structures()
    adj = torch.as_tensor(s["adjacency"][rows], dtype=torch.float32)
    off = torch.as_tensor(s["offsets"][rows], dtype=torch.float32)
    with torch.no_grad():
        mu, _ = net.encode(adj, off)
        _, off_hat = net.decode(mu)
    t, p = off.double().numpy(), off_hat.double().numpy()
    act = active_dofs(adj).numpy()
    types = octant.NODE_TYPES[octant.DOF_INDEX[:, 0]]
    print(f"{ckpt}: {len(rows)} {args.split} structures of {data}, decoded from z = mu (our offset units)")
    print("node type  active DOFs/structure   R^2     RMSE    std(true)")
    for code, name in ((1, "edge"), (2, "face"), (3, "body")):
        m = act & (types == code)[None]
        if m.any():
            rmse = np.sqrt(((t[m] - p[m]) ** 2).mean())
            print(f"{name:9s}  {m.sum(1).mean():21.1f}  {_r2(t[m], p[m]):6.3f}  {rmse:6.4f}  {t[m].std():8.4f}")
    print(f"all active DOFs (node_r2_dof): {_r2(t[act], p[act]):.3f}")
    pt, pp = paper_offsets(t), paper_offsets(p)
    print("paper's node R^2 " + " ".join(f"{a}: {_r2(pt[:, :, k].ravel(), pp[:, :, k].ravel()):.3f}"
                                         for k, a in enumerate(AXES)))


if __name__ == "__main__":
    main()
