"""Evaluation beside the strict metrics of :class:`~trussvae.models.TrussVAE`: the paper's metric
definitions (:mod:`trussvae.models.paper_metrics`) and the nonlinear curve metrics.

:class:`PaperMetricsCallback` (a Lightning callback, in ``conf/callbacks/default.yaml``; training
adds one when none is configured) computes, at the end of every test epoch (and of every
validation epoch, keys prefixed ``val/``), on the *whole* held-out split of the data module:

``paper/adjacency_accuracy``, ``paper/node_r2_x|y|z``, ``paper/property_r2_<name>``, ``paper/property_r2_min``
    the paper's definitions (FACTS.md section 6) with the reconstruction decoded from z = mu;
    properties predicted from mu, denormalised, against the physical labels.
``paper_sampled/adjacency_accuracy``, ``paper_sampled/node_r2_x|y|z``
    the paper's own variant: the reconstruction decodes a sampled z = mu + eps * std (eps from a CPU
    generator seeded ``seed``: the same draws every epoch). Properties come from mu in the paper's
    code too, so they are the ``paper/property_r2_*`` values and are not repeated.
``paper_train/...``
    as ``paper/...`` on a fixed seeded subset of ``train_samples`` (2,000) training structures: the
    size of the train/test gap.
``paper/validity``
    :func:`~trussvae.models.paper_metrics.paper_validity` of ``validity_samples`` (1,000) latents
    z ~ N(0, I) from a CPU generator seeded ``seed`` (the same draws as the strict ``validity/raw``
    when ``model.validity_seed`` is the same seed).
``test/curve_nrmse_mean``, ``test/curve_nrmse_median``, ``test/curve_nrmse_global``, ``test/curve_r2_e<kk>``, ...
    for a nonlinear model (``target == "nonlinear"``) only: :func:`curve_metrics` of the
    denormalised predictions from mu against the physical stresses.

:func:`paper_split_metrics` and :func:`curve_metrics` are the same computations without Lightning.
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

from trussvae.models.paper_metrics import PaperMetrics, paper_validity

__all__ = ["PaperMetricsCallback", "paper_split_metrics", "prior_paper_validity", "curve_metrics",
           "tta_predictions", "train_subset", "CURVE_KEYS", "PAPER_KEYS"]

#: metrics.json keys of every evaluated model (property keys: one per label name besides ``_min``)
PAPER_KEYS = ("paper/adjacency_accuracy", "paper/node_r2_x", "paper/node_r2_y", "paper/node_r2_z",
              "paper/property_r2_min", "paper/validity", "paper_sampled/adjacency_accuracy",
              "paper_sampled/node_r2_x", "paper_sampled/node_r2_y", "paper_sampled/node_r2_z",
              "paper_train/adjacency_accuracy", "paper_train/node_r2_x", "paper_train/node_r2_y",
              "paper_train/node_r2_z", "paper_train/property_r2_min")
#: metrics.json keys of a nonlinear model, besides ``test/curve_r2_e<kk>`` per strain point
CURVE_KEYS = ("test/curve_nrmse_mean", "test/curve_nrmse_median", "test/curve_nrmse_global",
              "test/curve_r2_min", "test/curve_flat_count")


def _physical(net, y_norm: torch.Tensor) -> np.ndarray:
    """Normalised (B, k) -> physical float64 numpy (the normaliser's numpy path, in float64)."""
    return net.normalizer.denormalize(y_norm.detach().cpu().double().numpy())


@torch.no_grad()
def tta_predictions(net, held: dict, batch_size: int = 4096) -> np.ndarray:
    """(n, k) physical test-time-averaged predictions of the split tensors ``held`` (``adj``, ``offsets``, and
    ``phys`` where the model reads physics features): :meth:`~trussvae.models.TrussVAENet.predict_tta` over its
    default operations, in batches (what ``<stage>/curve_tta_*`` are computed from)."""
    device = next(net.parameters()).device
    phys = held.get("phys")
    out = []
    for start in range(0, len(held["adj"]), batch_size):
        sl = slice(start, start + batch_size)
        y = net.predict_tta(held["adj"][sl].to(device), held["offsets"][sl].to(device),
                            phys=None if phys is None else phys[sl].to(device))
        out.append(_physical(net, y))
    return np.concatenate(out)


@torch.no_grad()
def paper_split_metrics(net, adj: torch.Tensor, offsets: torch.Tensor, y_norm: torch.Tensor, prefix: str = "paper",
                        sampled_prefix: str | None = None, seed: int = 0, batch_size: int = 4096,
                        property_names=None, features: torch.Tensor | None = None
                        ) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """The paper's reconstruction and property metrics of the structures ``adj`` (n, 351),
    ``offsets`` (n, 27) with normalised labels ``y_norm`` (n, k), evaluated by ``net`` (a
    :class:`~trussvae.models.TrussVAENet` or a TrussVAE).

    ``features``: the structures' physics features (n, k) when the caller has them (a data module's
    cached ``phys``), else computed for models with physics.

    Reconstruction from z = mu -> ``<prefix>/...``; with ``sampled_prefix``, also from
    z = mu + eps * exp(logvar / 2), eps ~ N(0, I) from a CPU generator seeded ``seed`` ->
    ``<sampled_prefix>/...`` (adjacency and offsets only). Properties: predicted from mu,
    denormalised, R^2 against the denormalised labels (physical scale).

    Returns ``(metrics, y_true, y_pred)``, the last two (n, k) float64 on the physical scale.
    """
    n = len(adj)
    if n == 0:
        raise ValueError(f"paper metrics of {prefix!r}: no structures to evaluate")
    names = list(property_names if property_names is not None else net.property_names)
    device = next(net.parameters()).device
    core = getattr(net, "net", net)  # the TrussVAENet of a TrussVAE
    mu_metrics, sampled_metrics = PaperMetrics(names), PaperMetrics()
    gen = torch.Generator().manual_seed(int(seed))
    ys_true, ys_pred = [], []
    for start in range(0, n, batch_size):
        a, o = adj[start:start + batch_size].to(device), offsets[start:start + batch_size].to(device)
        phys = core.input_features(a, o, None if features is None else features[start:start + batch_size].to(device))
        mu, logvar = core.encode(a, o, phys)
        prob, off_hat = net.decode(mu)
        y_true = _physical(net, y_norm[start:start + batch_size])
        y_pred = _physical(net, core.predict(mu, phys))
        mu_metrics.update(a, prob, o, off_hat, y_true, y_pred)
        ys_true.append(y_true)
        ys_pred.append(y_pred)
        if sampled_prefix:
            eps = torch.randn(mu.shape, generator=gen).to(mu)
            prob_s, off_s = net.decode(mu + eps * torch.exp(0.5 * logvar))
            sampled_metrics.update(a, prob_s, o, off_s)
    out = mu_metrics.compute(prefix)
    if sampled_prefix:
        out.update(sampled_metrics.compute(sampled_prefix))
    return out, np.concatenate(ys_true), np.concatenate(ys_pred)


@torch.no_grad()
def prior_paper_validity(net, n: int = 1000, seed: int = 0, batch_size: int = 4096) -> float:
    """The paper's validity of ``n`` latents z ~ N(0, I) (CPU generator seeded ``seed``) decoded by ``net``."""
    if n < 1:
        raise ValueError(f"paper validity needs n >= 1 prior samples, got {n}")
    device = next(net.parameters()).device
    z = torch.randn(int(n), net.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    prob = torch.cat([net.decode(z[s:s + batch_size].to(device))[0].cpu() for s in range(0, len(z), batch_size)])
    return paper_validity(prob.double().numpy())


def train_subset(n_train: int, k: int = 2000, seed: int = 0) -> np.ndarray:
    """Sorted row indices of a fixed seeded subset of ``min(k, n_train)`` training structures."""
    rng = np.random.default_rng(int(seed))
    return np.sort(rng.choice(int(n_train), size=min(int(k), int(n_train)), replace=False))


def curve_metrics(y_true, y_pred, prefix: str = "test", flat_tol: float = 1e-9) -> dict[str, float]:
    """Metrics of predicted stress-strain curves (n, m) against the true ones, on the physical scale.

    ``<prefix>/curve_nrmse_mean`` / ``_median``
        per curve: RMSE over its m points divided by the range (max - min) of that *true* curve;
        mean and median over the curves. A *flat* true curve (range <= ``flat_tol`` x the range of
        all true stresses) has no defined NRMSE: it is left out of mean and median and counted in
        ``<prefix>/curve_flat_count`` (NaN mean/median if every curve is flat).
    ``<prefix>/curve_nrmse_global``
        RMSE over all n x m points divided by the range of all true stresses (NaN if that is 0).
    ``<prefix>/curve_r2_e<kk>``, ``<prefix>/curve_r2_min``
        R^2 of strain point ``kk`` (00..m-1, the label columns ``sigma_<kk>``) over the curves;
        NaN where the true stresses of that point are all equal; the minimum over the points.
    """
    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if t.shape != p.shape or t.ndim != 2 or len(t) == 0:
        raise ValueError(f"curve metrics: expected two equal (n, m) arrays with n > 0, got {t.shape} and {p.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("curve metrics: non-finite stresses in the true or predicted curves")
    err2 = (p - t) ** 2
    global_range = float(t.max() - t.min())
    curve_range = t.max(axis=1) - t.min(axis=1)
    flat = curve_range <= flat_tol * global_range
    nrmse = np.sqrt(err2.mean(axis=1))[~flat] / curve_range[~flat]
    out = {f"{prefix}/curve_nrmse_mean": float(nrmse.mean()) if len(nrmse) else float("nan"),
           f"{prefix}/curve_nrmse_median": float(np.median(nrmse)) if len(nrmse) else float("nan"),
           f"{prefix}/curve_nrmse_global": (float(np.sqrt(err2.mean()) / global_range) if global_range > 0
                                            else float("nan")),
           f"{prefix}/curve_flat_count": float(flat.sum())}
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - err2.sum(axis=0) / ss_tot, np.nan)
    out.update({f"{prefix}/curve_r2_e{k:02d}": float(v) for k, v in enumerate(r2)})
    out[f"{prefix}/curve_r2_min"] = float(np.nanmin(r2)) if np.any(np.isfinite(r2)) else float("nan")
    return out


class PaperMetricsCallback(pl.Callback):
    """Logs the paper-definition metrics (and a nonlinear model's curve metrics) at the end of every
    test epoch and, with ``validation``, every validation epoch (keys prefixed ``val/``); see the
    module doc for the keys.

    Args:
        train_samples: size of the fixed seeded subset of training structures (``paper_train/...``).
        validity_samples: prior samples of ``paper/validity`` (0: not computed).
        seed: seed of the sampled-z reconstruction, the training subset and the prior samples.
        sampled: also report the sampled-z reconstruction (``paper_sampled/...``).
        validation: also evaluate at the end of validation epochs (not in the sanity check).
        every_n_epochs: ... of every ``every_n_epochs``-th validation epoch (the cost: one more
            forward pass over the validation split and the training subset, and the prior decodes;
            about as much as the strict validation itself).
        batch_size: structures per forward pass.

    Needs the trainer's data module to hold the split tensors (:class:`~trussvae.data.TrussDataModule`).
    """

    def __init__(self, train_samples: int = 2000, validity_samples: int = 1000, seed: int = 0,
                 sampled: bool = True, validation: bool = True, every_n_epochs: int = 1, batch_size: int = 4096):
        super().__init__()
        if train_samples < 0 or validity_samples < 0 or batch_size < 1 or every_n_epochs < 1:
            raise ValueError(f"PaperMetricsCallback: train_samples={train_samples} and validity_samples="
                             f"{validity_samples} must be >= 0, batch_size={batch_size} and every_n_epochs="
                             f"{every_n_epochs} >= 1")
        self.every_n_epochs = int(every_n_epochs)
        self.train_samples, self.validity_samples = int(train_samples), int(validity_samples)
        self.seed, self.sampled, self.validation, self.batch_size = int(seed), bool(sampled), bool(validation), \
            int(batch_size)

    def evaluate(self, net, datasets: dict, stage: str, tta: bool = False) -> dict[str, float]:
        """Every metric of the ``stage`` split (``"val"`` or ``"test"``) of ``datasets`` (split name ->
        a dataset with ``.tensors`` ``adj``, ``offsets``, ``y``), keys as logged. ``tta`` (a nonlinear
        model): also the curve metrics of the test-time average over the 16 operations that keep e3,
        ``<stage>/curve_tta_*`` (the plain ``<stage>/curve_*`` stay the headline)."""
        pre = "val/" if stage == "val" else ""
        for split in (stage, "train"):
            if split not in datasets or not hasattr(datasets[split], "tensors"):
                raise ValueError(f"PaperMetricsCallback: the data module has no {split!r} split tensors "
                                 "(expected a set-up TrussDataModule)")
        held = datasets[stage].tensors
        sampled = f"{pre}paper_sampled" if self.sampled else None
        out, y_true, y_pred = paper_split_metrics(net, held["adj"], held["offsets"], held["y"], f"{pre}paper", sampled,
                                                  self.seed, self.batch_size, features=held.get("phys"))
        if self.train_samples:
            tr = datasets["train"].tensors
            idx = torch.as_tensor(train_subset(len(tr["adj"]), self.train_samples, self.seed))
            phys = tr.get("phys")
            out.update(paper_split_metrics(net, tr["adj"][idx], tr["offsets"][idx], tr["y"][idx], f"{pre}paper_train",
                                           None, self.seed, self.batch_size,
                                           features=None if phys is None else phys[idx])[0])
        if self.validity_samples:
            out[f"{pre}paper/validity"] = prior_paper_validity(net, self.validity_samples, self.seed, self.batch_size)
        if getattr(net, "target", "linear") == "nonlinear":
            out.update(curve_metrics(y_true, y_pred, prefix=stage))
            if tta:
                y_tta = tta_predictions(net, held, self.batch_size)
                out.update({k.replace(f"{stage}/curve_", f"{stage}/curve_tta_"): v
                            for k, v in curve_metrics(y_true, y_tta, prefix=stage).items()})
        return out

    def _run(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        dm = trainer.datamodule
        if dm is None or not getattr(dm, "datasets", None):
            raise ValueError("PaperMetricsCallback needs the trainer's data module (a set-up TrussDataModule); "
                             "pass datamodule=... to fit/test, or remove the callback")
        net = getattr(pl_module, "net", pl_module)
        was_training = net.training
        net.eval()
        try:
            hparams = getattr(pl_module, "hparams", None) or {}
            metrics = self.evaluate(net, dm.datasets, stage, tta=stage == "test" and bool(hparams.get("tta", False)))
        finally:
            net.train(was_training)
        # NaN (e.g. no curve has a range) stays out of the loggers; training.py records missing keys as null
        pl_module.log_dict({k: float(v) for k, v in metrics.items() if np.isfinite(v)}, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.validation and not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._run(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._run(trainer, pl_module, "test")
