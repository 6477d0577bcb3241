"""Latent exploration: prior samples, neighbourhoods, axis traversals, interpolation (paper Figs. 3-4).

Every function returns a :class:`LatentPath`: the latent points, the decoded trusses, whether
each decodes into a valid truss (optionally after :func:`trussvae.design_space.repair.repair`), and
its FE stiffness (NaN where invalid). :func:`path_figure` draws a sheet of structures with
their elastic surfaces; :func:`path_gif` animates a path. Neither leaves a panel blank: an invalid
decode is drawn faded with the reason it is invalid, and beside it the repaired truss that was
FE-evaluated in its place (when the repair succeeds).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np
import torch

from trussvae.design_space import TrussGraph, TrussGraphError

__all__ = ["LatentPath", "encode_graphs", "sample_prior", "sample_neighbourhood", "traverse_axis",
           "interpolate", "slerp", "evaluate_path", "invalid_reason", "path_figure", "path_gif"]

#: colour and opacity of an invalid decode in sheets and GIFs
_INVALID_COLOR, _INVALID_ALPHA = "#b0413e", 0.35


@dataclass
class LatentPath:
    """Decoded latent points. ``z`` (n, d); ``graphs`` the raw decodes; ``valid`` raw validity;
    ``final`` the graphs FE-evaluated (repaired where ``repaired``); ``stiffness`` (n, 6, 6);
    ``reasons`` why each raw decode is invalid (``None`` where valid; see :func:`invalid_reason`)."""

    z: np.ndarray
    graphs: list[TrussGraph]
    valid: np.ndarray
    final: list[TrussGraph | None] = field(default_factory=list)
    repaired: np.ndarray | None = None
    stiffness: np.ndarray | None = None
    label: str = ""
    reasons: list[str | None] = field(default_factory=list)


def invalid_reason(graph: TrussGraph) -> str | None:
    """``"rule: reason"`` of the first validity rule ``graph`` breaks, None if it is valid."""
    v = graph.violations(first_only=True)
    return f"{v[0][0]}: {v[0][1]}" if v else None


def _reasons(path: LatentPath) -> list[str | None]:
    if len(path.reasons) != len(path.graphs):
        path.reasons = [None if ok else invalid_reason(g) for g, ok in zip(path.graphs, path.valid)]
    return path.reasons


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
    reasons = [invalid_reason(g) for g in graphs]
    valid = np.array([r is None for r in reasons])
    return LatentPath(z.detach().cpu().numpy(), graphs, valid, label=label, reasons=reasons)


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


def _draw_decode(ax, graph: TrussGraph, title: str, reason: str | None, width: int = 30) -> None:
    """A decode on ``ax``: as is when valid; faded, with its reason below, when invalid (the full cell
    when it can be built, else the octant; only the reason when no node position is finite)."""
    from trussvae.viz.truss3d import plot_truss_graph

    if reason is None:
        plot_truss_graph(graph, ax=ax, title=title)
        return
    try:
        plot_truss_graph(graph, ax=ax, title=title, color=_INVALID_COLOR, alpha=_INVALID_ALPHA)
    except TrussGraphError:  # no full cell (no strut, a node out of bounds): draw the octant
        ax.clear()
        if np.isfinite(graph.positions).any():
            plot_truss_graph(graph, ax=ax, full_cell=False, title=title, color=_INVALID_COLOR, alpha=_INVALID_ALPHA)
            ax.get_legend().remove()
        else:
            ax.set_axis_off()
            ax.set_title(title, fontsize=9)
    ax.text2D(0.5, 0.0, textwrap.fill(reason, width), transform=ax.transAxes, ha="center", va="top", fontsize=6.5,
              color=_INVALID_COLOR)


def path_figure(path: LatentPath, out, max_panels: int = 9, quantity: str = "E11"):
    """Sheet of structures (top row) and elastic surfaces (bottom row) along a path; saves PNG.

    An invalid decode is drawn faded with the reason it is invalid; when the repair made it valid,
    the repaired truss is drawn beside it and its elastic surface below; when it did not, the
    bottom panel says so. No panel is left blank."""
    from matplotlib.figure import Figure

    from trussvae.design.targets import quantity as q
    from trussvae.viz.elastic_surface import plot_elastic_surface
    from trussvae.viz.truss3d import plot_truss_graph

    if path.stiffness is None:
        evaluate_path(path)
    reasons = _reasons(path)
    idx = np.unique(np.linspace(0, len(path.graphs) - 1, min(max_panels, len(path.graphs))).round().astype(int))
    fig = Figure(figsize=(2.6 * len(idx), 5.8))
    grid = fig.add_gridspec(2, len(idx), hspace=0.3)
    for col, i in enumerate(idx):
        raw, g, C, reason = path.graphs[i], path.final[i], path.stiffness[i], reasons[i]
        if reason is None:
            _draw_decode(fig.add_subplot(grid[0, col], projection="3d"), raw, f"#{i}", None)
        else:
            top = grid[0, col].subgridspec(1, 2, wspace=0.0) if g is not None else None
            ax = fig.add_subplot(top[0, 0] if top is not None else grid[0, col], projection="3d")
            _draw_decode(ax, raw, f"#{i}: invalid", reason, width=18 if top is not None else 30)
            if g is not None:
                plot_truss_graph(g, ax=fig.add_subplot(top[0, 1], projection="3d"), title="repaired")
        ax2 = fig.add_subplot(grid[1, col], projection="3d")
        if g is None:
            ax2.set_axis_off()
            ax2.text2D(0.5, 0.5, "no FE: the decode is invalid\nand the repair failed", transform=ax2.transAxes,
                       ha="center", va="center", fontsize=8, color=_INVALID_COLOR)
            continue
        tag = " (repaired)" if path.repaired is not None and path.repaired[i] else ""
        plot_elastic_surface(C, ax=ax2, n_theta=24, n_phi=48, title=f"{quantity}={float(q(quantity, C)):.4f}{tag}")
    fig.suptitle(path.label)
    fig.savefig(out, dpi=90)
    return fig


def path_gif(path: LatentPath, out, fps: int = 4):
    """Animated GIF of the decoded structures along a path: every decode, an invalid one faded with
    its reason and the repaired truss beside it (when the repair succeeded)."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    from trussvae.viz.truss3d import plot_truss_graph

    if path.stiffness is None:
        evaluate_path(path)
    reasons = _reasons(path)
    if not path.graphs:
        raise ValueError("path_gif: the path is empty")
    fig = Figure(figsize=(7, 3.8))

    def draw(i):
        fig.clear()
        raw, g, reason = path.graphs[i], path.final[i], reasons[i]
        if reason is None:
            _draw_decode(fig.add_subplot(1, 2, (1, 2), projection="3d"), raw, f"{path.label}: #{i}", None)
            return
        _draw_decode(fig.add_subplot(1, 2, 1, projection="3d"), raw, f"{path.label}: #{i} invalid", reason)
        ax = fig.add_subplot(1, 2, 2, projection="3d")
        if g is not None:
            plot_truss_graph(g, ax=ax, title="repaired")
        else:
            ax.set_axis_off()
            ax.text2D(0.5, 0.5, "the repair failed", transform=ax.transAxes, ha="center", va="center",
                      color=_INVALID_COLOR)

    FuncAnimation(fig, draw, frames=len(path.graphs)).save(out, writer=PillowWriter(fps=fps))
    return out
