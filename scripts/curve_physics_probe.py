"""How much of a compression curve do cheap physics estimates explain? (issue 13, docs/model.md)

    python scripts/curve_physics_probe.py /work/data/lattices_seed0 [--n 20000] [--epochs 60]

On the first ``--n`` structures with converged nonlinear labels it prints

* the secant-modulus ratio ``sigma_k / (E3_R eps_k)`` of the FE curves against the Ritz linear estimate
  (quantiles per strain point: how far each point is from linear);
* a strut-wise Euler buckling estimate: under a unit uniaxial compressive stress along e3 with the
  affine strain of the Ritz compliance, strut ``e`` carries ``N_e = E A (t_e^T eps t_e)``; its Euler load is
  ``pi^2 E I / L_e^2`` (pinned ends); ``sigma_cr = min_e P_cr,e / |N_e|`` over compressed struts;
* the linearised buckling analysis of the label cell (:func:`trussvae.fem.nonlinear.linear_buckling`, the
  features of ``model.curve_features=buckling``, cached in ``<store>/features/buckling.npz``): its first
  critical strain against the FE curve's knee;
* the curve metrics of the same small MLP (log stresses, 80/20 split of the rows) trained on the
  features alone: the Ritz components, + the Euler features, + the buckling features, + an oracle (the
  FE curve's own knee: the first point whose secant ratio drops below 0.8);
* with ``--second-order``: + the second-order buckling features (``model.curve_features=buckling2``,
  ``<store>/features/buckling2.npz``, ~40 ms a structure not cached yet), alone and each column.

No structure information beyond these features enters: the numbers rank features, they are not the
VAE's metrics.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.stats import spearmanr

from trussvae.data.physics import (
    BUCKLING2_NAMES,
    buckling_fe_settings,
    load_or_compute_buckling,
    load_or_compute_ritz,
    physics_fe_settings,
)
from trussvae.design_space.truss_graph import arrays_to_graph
from trussvae.fem.elasticity import LABEL_STRAINS, stiffness_from_orthotropic, stiffness_to_compliance, youngs_moduli
from trussvae.io.store import LatticeStore
from trussvae.models.network import physics_head_inputs


def euler_features(adjacency: np.ndarray, offsets: np.ndarray, ritz: np.ndarray, density: float) -> np.ndarray:
    """(n, 4): log sigma_cr, log of the 3rd-smallest strut value, log of the median, log(sigma_cr / E3_R)."""
    out = np.zeros((len(ritz), 4))
    compliances = stiffness_to_compliance(stiffness_from_orthotropic(ritz))
    for i, compliance in enumerate(compliances):
        frame = arrays_to_graph(adjacency[i] > 0.5, offsets[i].astype(np.float64)).to_frame(density)
        eps = -compliance[:3, 2]  # normal strains under unit compression along e3 (no shear: orthotropic)
        vec = frame.strut_vectors()
        length = np.linalg.norm(vec, axis=1)
        axial = ((vec / length[:, None]) ** 2) @ eps
        r = frame.radii()
        force = np.pi * r ** 2 * axial
        p_cr = np.pi ** 2 * (np.pi * r ** 4 / 4) / length ** 2
        comp = force < -1e-12
        s = np.sort(p_cr[comp] / -force[comp]) if comp.any() else np.array([1e3])
        out[i] = [np.log(s[0]), np.log(s[min(2, len(s) - 1)]), np.log(np.median(s)),
                  np.log(s[0] * compliance[2, 2])]
    return out


def mlp_metrics(x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> str:
    torch.manual_seed(seed)
    n = len(x)
    train = np.arange(n) < int(0.8 * n)
    t = np.log(y)
    mu, sd = t[train].mean(0), t[train].std(0)
    xm, xs = x[train].mean(0), x[train].std(0) + 1e-9
    xt = torch.tensor((x - xm) / xs, dtype=torch.float32)
    yt = torch.tensor((t - mu) / sd, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 128), torch.nn.SiLU(), torch.nn.Linear(128, 128),
                              torch.nn.SiLU(), torch.nn.Linear(128, y.shape[1]))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    rows = np.flatnonzero(train)
    for ep in range(epochs):
        perm = np.random.default_rng(ep).permutation(rows)
        for b in range(0, len(perm), 256):
            j = perm[b:b + 256]
            loss = ((net(xt[j]) - yt[j]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = np.exp(net(xt[~train]).numpy() * sd + mu)
    true = y[~train]
    per = np.sqrt(((pred - true) ** 2).mean(1)) / np.maximum(true.max(1) - true.min(1), 1e-30)
    glob = np.sqrt(((pred - true) ** 2).mean()) / (true.max() - true.min())
    r2 = 1 - ((pred - true) ** 2).sum(0) / ((true - true.mean(0)) ** 2).sum(0)
    return (f"per-curve NRMSE mean {per.mean():.3f} median {np.median(per):.3f}, global {glob:.4f}, "
            f"R2 per point {r2.min():.3f}-{r2.max():.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--second-order", action="store_true", help="also rank the buckling2 features")
    ap.add_argument("store")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    store = LatticeStore(args.store)
    s = store.load_structures()
    labels = store.load_labels("nonlinear", allow_partial=True)
    y_all = np.asarray(labels["stress"], dtype=np.float64).reshape(len(s["hashes"]), -1)
    ok = np.asarray(labels["ok"], bool) & np.all(np.isfinite(y_all), 1) & np.all(y_all > 0, 1)
    idx = np.flatnonzero(ok)[:args.n]
    if len(idx) < 100:
        raise SystemExit(f"{args.store}: only {len(idx)} converged positive nonlinear curves; label more first")
    fe = physics_fe_settings(store.meta)
    ritz = load_or_compute_ritz(args.store, s["adjacency"], s["offsets"], 2, fe)[idx]
    y = y_all[idx]
    e3 = youngs_moduli(stiffness_from_orthotropic(ritz))[:, 2]
    ratio = y / (e3[:, None] * LABEL_STRAINS[None, :])
    np.set_printoptions(precision=3, linewidth=160)
    print(f"{len(idx)} curves; secant ratio sigma_k / (E3_R eps_k) per strain point (rows: p0.1, p10, p50, p90):")
    print(np.quantile(ratio, [0.001, 0.1, 0.5, 0.9], axis=0))
    euler = euler_features(s["adjacency"][idx], s["offsets"][idx], ritz, fe["relative_density"])
    knee_strain = np.exp(euler[:, 3])
    rel_range = (y.max(1) - y.min(1)) / y.max(1)
    flat = rel_range < np.quantile(rel_range, 0.2)
    print("Euler knee strain sigma_cr / E3_R (p10, p50, p90): flattest fifth of the curves",
          np.quantile(knee_strain[flat], [0.1, 0.5, 0.9]), "others", np.quantile(knee_strain[~flat], [0.1, 0.5, 0.9]))
    buck = load_or_compute_buckling(args.store, s["adjacency"], s["offsets"], buckling_fe_settings(store.meta),
                                    idx)[idx]
    good = np.all(np.isfinite(buck), 1)
    buck = np.nan_to_num(buck, nan=1.0)
    knee = np.array([np.argmax(r < 0.8) if (r < 0.8).any() else len(LABEL_STRAINS) for r in ratio])
    fe_knee = np.append(LABEL_STRAINS, 0.3)[knee]  # ties (13 strain points): spearmanr ranks them by average
    spearman = spearmanr(buck[good, 1], fe_knee[good]).statistic
    print(f"linearised buckling: first critical strain (p10, p50, p90) {np.quantile(buck[good, 1], [0.1, 0.5, 0.9])}; "
          f"Spearman correlation with the FE knee {spearman:.3f}; "
          f"E3_0 / E3_R median {np.median(buck[good, 0] / e3[good]):.4f}")
    head = physics_head_inputs(torch.from_numpy(np.hstack([ritz, buck])), "buckling").numpy()
    base, bfeat = head[:, :9], head[:, 9:]  # the features as the network's physics head sees them
    print("MLP on Ritz components:          ", mlp_metrics(base, y, args.epochs))
    print("  + Euler features:              ", mlp_metrics(np.hstack([base, euler]), y, args.epochs))
    print("  + buckling features:           ", mlp_metrics(np.hstack([base, bfeat]), y, args.epochs))
    print("  + oracle knee (FE, one-hot):   ",
          mlp_metrics(np.hstack([base, euler, np.eye(len(LABEL_STRAINS) + 1)[knee]]), y, args.epochs))
    if args.second_order:
        b2 = load_or_compute_buckling(args.store, s["adjacency"], s["offsets"], buckling_fe_settings(store.meta),
                                      idx, kind="buckling2")[idx]
        good2 = np.all(np.isfinite(b2[:, :4]), 1)
        spearman2 = spearmanr(b2[good2, 4], fe_knee[good2]).statistic
        print(f"second order: re-linearised first critical strain / linearised (p10, p50, p90) "
              f"{np.quantile(b2[good2, 4] / b2[good2, 1], [0.1, 0.5, 0.9])}; Spearman with the FE knee "
              f"{spearman2:.3f}; tangent ratio (p10, p50, p90) {np.nanquantile(b2[good2, 5], [0.1, 0.5, 0.9])}; "
              f"sway share > 0.5: {np.mean(b2[good2, 6] > 0.5):.3f}")
        b2 = np.nan_to_num(b2, nan=0.0)
        extra = physics_head_inputs(torch.from_numpy(np.hstack([ritz, b2])), "buckling2").numpy()[:, 13:]
        for k, name in enumerate(BUCKLING2_NAMES[4:]):  # as the network's physics head sees them
            print(f"  + buckling + {name}:".ljust(36), mlp_metrics(np.hstack([base, bfeat, extra[:, k:k + 1]]), y,
                                                                  args.epochs))
        print("  + second-order buckling (all):  ", mlp_metrics(np.hstack([base, bfeat, extra]), y, args.epochs))


if __name__ == "__main__":
    main()
