"""Training figures: truss reconstructions and the latent PCA, and the Lightning callback that logs them.

matplotlib is imported lazily (Agg backend); figures go to every logger that accepts images
(TensorBoard ``add_figure``, W&B ``log_image``) and are always saved as PNG under
``<log_dir or output_dir>/figures/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from trussvae.design_space.truss_graph import TrussGraph
from trussvae.viz.truss3d import frame_segments

log = logging.getLogger(__name__)

__all__ = ["plot_truss", "reconstruction_figure", "latent_pca_figure", "FigureLogger"]


def _segments(graph: TrussGraph) -> np.ndarray:
    """(E, 2, 3) strut segments of the full unit cell centred on the origin (as
    :func:`~trussvae.viz.truss3d.plot_truss_graph` draws it), or of the octant as decoded when the
    cell cannot be built (invalid decoded geometry)."""
    try:
        frame = graph.to_frame(relative_density=None, radius=0.01)
    except Exception:  # invalid decoded geometry: show the octant as decoded
        e = graph.edges
        return np.stack([graph.positions[e[:, 0]], graph.positions[e[:, 1]]], axis=1) / 2.0
    return frame_segments(frame, origin=(-0.5, -0.5, -0.5))[0]


def plot_truss(ax, graph: TrussGraph, title: str = "", color: str = "C0") -> None:
    for seg in _segments(graph):
        ax.plot(*seg.T, color=color, lw=1.0)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def reconstruction_figure(originals: list[TrussGraph], reconstructions: list[TrussGraph]):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(originals)
    fig = plt.figure(figsize=(2.2 * n, 4.4))
    for k, (g, r) in enumerate(zip(originals, reconstructions)):
        plot_truss(fig.add_subplot(2, n, k + 1, projection="3d"), g, f"input {k}", "C0")
        status = "ok" if r.is_valid() else "invalid"
        plot_truss(fig.add_subplot(2, n, n + k + 1, projection="3d"), r, f"recon {k} ({status})", "C3")
    fig.tight_layout()
    return fig


def latent_pca_figure(mu: np.ndarray, prop: np.ndarray, prop_name: str):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    centred = mu - mu.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    expl = s[:2] ** 2 / max((s ** 2).sum(), 1e-12)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=prop, s=4, cmap="viridis")
    fig.colorbar(sc, ax=ax, label=prop_name)
    ax.set_xlabel(f"PC1 ({100 * expl[0]:.0f}%)")
    ax.set_ylabel(f"PC2 ({100 * expl[1]:.0f}%)" if len(expl) > 1 else "PC2")
    fig.tight_layout()
    return fig


class FigureLogger(pl.Callback):
    """Every ``every_n_epochs`` validation epochs: reconstructions of a fixed val batch + latent PCA."""

    def __init__(self, every_n_epochs: int = 5, n_examples: int = 6, n_pca: int = 2000, property_index: int = 0):
        self.every_n_epochs, self.n_examples, self.n_pca, self.property_index = (every_n_epochs, n_examples,
                                                                                 n_pca, property_index)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module) -> None:
        if (trainer.sanity_checking or not trainer.is_global_zero or not self.every_n_epochs
                or (trainer.current_epoch + 1) % self.every_n_epochs):
            return
        ds = getattr(trainer.datamodule, "datasets", {}).get("val") if trainer.datamodule is not None else None
        if ds is None or len(ds) == 0:
            return
        import matplotlib.pyplot as plt

        batch = ds[torch.arange(min(len(ds), self.n_pca))]
        with torch.no_grad():
            adj, off = batch["adj"].to(pl_module.device), batch["offsets"].to(pl_module.device)
            mu, _ = pl_module.encode(adj, off)
            recon = pl_module.decode_graphs(mu[: self.n_examples])
            prop = pl_module.denormalise(batch["y"].to(pl_module.device))[:, self.property_index]
        originals = [TrussGraph.from_vae_input(a, o) for a, o in zip(adj[: self.n_examples].cpu().numpy(),
                                                                     off[: self.n_examples].cpu().double().numpy())]
        figs = {"reconstructions": reconstruction_figure(originals, recon),
                "latent_pca": latent_pca_figure(mu.cpu().numpy(), prop.cpu().numpy(),
                                                pl_module.property_names[self.property_index])}
        self._log(trainer, figs)
        for fig in figs.values():
            plt.close(fig)

    @staticmethod
    def _log(trainer: pl.Trainer, figs: dict) -> None:
        step, epoch = trainer.global_step, trainer.current_epoch
        out = Path(trainer.log_dir or trainer.default_root_dir) / "figures"
        out.mkdir(parents=True, exist_ok=True)
        for name, fig in figs.items():
            fig.savefig(out / f"{name}_epoch{epoch:04d}.png", dpi=80)
        for lg in trainer.loggers:
            exp = getattr(lg, "experiment", None)
            if hasattr(exp, "add_figure"):  # TensorBoard
                for name, fig in figs.items():
                    exp.add_figure(f"val/{name}", fig, global_step=step, close=False)
            elif hasattr(lg, "log_image"):  # W&B
                import wandb

                for name, fig in figs.items():
                    lg.log_image(key=f"val/{name}", images=[wandb.Image(fig)], step=step)
