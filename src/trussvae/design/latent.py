"""Latent exploration: prior samples, neighbourhoods, axis traversals, interpolation (paper Figs. 3-4).

Every function returns a :class:`LatentPath`: the latent points, the decoded trusses, whether
each decodes into a valid truss (optionally after :func:`trussvae.design_space.repair.repair`), and
its FE stiffness (NaN where invalid). :func:`path_figure` draws a sheet of structures with
their elastic surfaces; :func:`path_gif` animates a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from trussvae.design_space import TrussGraph

__all__ = ["LatentPath", "encode_graphs", "sample_prior", "sample_neighbourhood", "traverse_axis",
           "interpolate", "slerp", "evaluate_path", "path_figure", "path_gif"]


@dataclass
class LatentPath:
    """Decoded latent points. ``z`` (n, d); ``graphs`` the raw decodes; ``valid`` raw validity;
    ``final`` the graphs FE-evaluated (repaired where ``repaired``); ``stiffness`` (n, 6, 6)."""

    z: np.ndarray
    graphs: list[TrussGraph]
    valid: np.ndarray
    final: list[TrussGraph | None] = field(default_factory=list)
    repaired: np.ndarray | None = None
    stiffness: np.ndarray | None = None
    label: str = ""


def encode_graphs(model, graphs) -> torch.Tensor:
    """Latent means (n, d) of trusses."""
    adj, feats = zip(*(g.to_vae_input("offsets") for g in graphs))
    with torch.no_grad():
        mu, _ = model.encode(torch.as_tensor(np.array(adj)).to(model.device),
                             torch.as_tensor(np.array(feats)).to(model.device))
    return mu


def slerp(z1: torch.Tensor, z2: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Spherical linear interpolation (paper eq. 6); falls back to linear for parallel vectors."""
    cos = torch.clamp((z1 @ z2) / (z1.norm() * z2.norm()), -1.0, 1.0)
    theta = torch.arccos(cos)
    a = alpha[:, None]
    if float(torch.sin(theta)) < 1e-6:
        return (1 - a) * z1 + a * z2
    return (torch.sin((1 - a) * theta) * z1 + torch.sin(a * theta) * z2) / torch.sin(theta)


def _decode(model, z: torch.Tensor, label: str) -> LatentPath:
    graphs = model.decode_graphs(z)
    valid = np.array([g.is_valid() for g in graphs])
    return LatentPath(z.detach().cpu().numpy(), graphs, valid, label=label)


def sample_prior(model, n: int, seed: int = 0) -> LatentPath:
    """``n`` decodes of z ~ N(0, I)."""
    g = torch.Generator().manual_seed(int(seed))
    return _decode(model, torch.randn(int(n), model.latent_dim, generator=g), "prior samples")


def sample_neighbourhood(model, graph: TrussGraph, n: int, radius: float = 0.3, seed: int = 0) -> LatentPath:
    """``n`` decodes of mu(graph) + radius * N(0, I): trusses similar to ``graph``."""
    g = torch.Generator().manual_seed(int(seed))
    mu = encode_graphs(model, [graph])[0].cpu()
    z = mu + radius * torch.randn(int(n), model.latent_dim, generator=g)
    return _decode(model, torch.cat([mu[None], z]), f"neighbourhood (radius {radius})")


def traverse_axis(model, graph: TrussGraph, axis: int, span: float = 3.0, n: int = 9) -> LatentPath:
    """Move along latent axis ``axis`` from mu(graph) by ``linspace(-span, span, n)`` (paper Fig. 3).

    Which part of z an axis belongs to: ``model.latent_slices`` (topology, shared, geometry).
    """
    d = model.latent_dim
    if not 0 <= axis < d:
        raise ValueError(f"axis must be in [0, {d}), got {axis}")
    mu = encode_graphs(model, [graph])[0].cpu()
    z = mu.repeat(int(n), 1)
    z[:, axis] = mu[axis] + torch.linspace(-span, span, int(n))
    part = next((k for k, s in model.latent_slices.items() if s.start <= axis < s.stop), "?")
    return _decode(model, z, f"latent axis {axis} ({part})")


def interpolate(model, start: TrussGraph, end: TrussGraph, n: int = 9, method: str = "slerp") -> LatentPath:
    """Decodes along the linear or spherical (paper eq. 6) path between two trusses' latent means."""
    if method not in ("linear", "slerp"):
        raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
    mu = encode_graphs(model, [start, end]).cpu()
    alpha = torch.linspace(0.0, 1.0, int(n))
    if method == "linear":
        z = (1 - alpha[:, None]) * mu[0] + alpha[:, None] * mu[1]
    else:
        z = slerp(mu[0], mu[1], alpha)
    return _decode(model, z, f"{method} interpolation")


def evaluate_path(path: LatentPath, fe=None, repair: bool = True) -> LatentPath:
    """FE stiffness of every decoded truss (repaired first if invalid and ``repair``); NaN otherwise."""
    from trussvae.design.evaluate import fe_properties
    from trussvae.design_space.repair import repair as repair_graph
    from trussvae.fem.settings import LinearFESettings

    fe = fe or LinearFESettings()
    if not isinstance(fe, LinearFESettings):
        raise ValueError(f"evaluate_path computes stiffness: fe must be LinearFESettings, got {type(fe).__name__}")
    final, fixed = [], []
    for g, ok in zip(path.graphs, path.valid):
        h = g if ok else (repair_graph(g) if repair else None)
        good = h is not None and h.is_valid()
        final.append(h if good else None)
        fixed.append(bool(good and not ok))
    C = np.full((len(final), 6, 6), np.nan)
    rows = [i for i, g in enumerate(final) if g is not None]
    if rows:
        C[rows] = fe_properties([final[i] for i in rows], fe)
    path.final, path.repaired, path.stiffness = final, np.array(fixed), C
    return path


def path_figure(path: LatentPath, out, max_panels: int = 9, quantity: str = "E11"):
    """Sheet of structures (top row) and elastic surfaces (bottom row) along a path; saves PNG."""
    from matplotlib.figure import Figure

    from trussvae.design.targets import quantity as q
    from trussvae.viz.elastic_surface import plot_elastic_surface
    from trussvae.viz.truss3d import plot_truss_graph

    if path.stiffness is None:
        evaluate_path(path)
    idx = np.unique(np.linspace(0, len(path.graphs) - 1, min(max_panels, len(path.graphs))).round().astype(int))
    fig = Figure(figsize=(2.6 * len(idx), 5.4))
    for col, i in enumerate(idx):
        g, C = path.final[i], path.stiffness[i]
        ax = fig.add_subplot(2, len(idx), col + 1, projection="3d")
        if g is None:
            ax.set_axis_off()
            ax.set_title(f"#{i}: invalid")
            continue
        tag = " (repaired)" if path.repaired[i] else ""
        plot_truss_graph(g, ax=ax, title=f"#{i}{tag}")
        ax2 = fig.add_subplot(2, len(idx), len(idx) + col + 1, projection="3d")
        plot_elastic_surface(C, ax=ax2, n_theta=24, n_phi=48, title=f"{quantity}={float(q(quantity, C)):.4f}")
    fig.suptitle(path.label)
    fig.savefig(out, dpi=90)
    return fig


def path_gif(path: LatentPath, out, fps: int = 4):
    """Animated GIF of the decoded structures along a path (invalid frames are skipped)."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    from trussvae.viz.truss3d import plot_truss_graph

    if path.stiffness is None:
        evaluate_path(path)
    frames = [(i, g) for i, g in enumerate(path.final) if g is not None]
    if not frames:
        raise ValueError("path_gif: no valid structure on the path")
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot(projection="3d")

    def draw(k):
        ax.clear()
        i, g = frames[k]
        plot_truss_graph(g, ax=ax, title=f"{path.label}: #{i}")

    FuncAnimation(fig, draw, frames=len(frames)).save(out, writer=PillowWriter(fps=fps))
    return out
