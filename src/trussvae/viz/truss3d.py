"""3D drawings of periodic frames and design-space graphs (matplotlib, Agg-safe; plotly optional).

Matplotlib and plotly are imported inside the functions; figures are created with
:class:`matplotlib.figure.Figure` (no pyplot state, no display needed).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

__all__ = ["plot_frame", "plot_truss_graph", "figure_sheet", "plotly_frame", "frame_segments", "TYPE_COLORS"]

#: node-type colours (vertex, edge, face, body), as in the paper's Fig. 1
TYPE_COLORS = ("#1f5fbf", "#2ca02c", "#8e44ad", "#d62728")
_BOX_EDGES = [
    (a, b)
    for a, b in itertools.combinations(itertools.product((0, 1), repeat=3), 2)
    if sum(x != y for x, y in zip(a, b)) == 1
]


def _new_3d_axes(ax):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(4, 4)).add_subplot(projection="3d")


def _box_segments(lattice_vectors, tessellate=(1, 1, 1), origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(12, 2, 3) Cartesian edges of the fractional box ``origin + [0, tessellate]``."""
    corners = np.asarray(_BOX_EDGES, dtype=np.float64) * np.asarray(tessellate) + np.asarray(origin)
    return corners @ np.asarray(lattice_vectors, dtype=np.float64)


def _frame_segments(frame, tessellate=(1, 1, 1), origin=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian strut segments (K, 2, 3) clipped to the fractional box ``origin + [0, tessellate]``.

    Every periodic image of every strut that meets the box is clipped to it, so the drawing
    shows exactly the lattice inside the box. Also returns the (K,) strut id of each segment.
    """
    lo = np.asarray(origin, dtype=np.float64)
    hi = lo + np.asarray(tessellate, dtype=np.float64)
    ranges = [range(int(np.floor(a)) - 1, int(np.ceil(b)) + 1) for a, b in zip(lo, hi)]
    cells = np.array(list(itertools.product(*ranges)), dtype=np.float64)
    p = (frame.nodes[frame.struts[:, 0]][None] + cells[:, None]).reshape(-1, 3)
    vec = frame.nodes[frame.struts[:, 1]] + frame.shifts - frame.nodes[frame.struts[:, 0]]
    d = np.tile(vec, (len(cells), 1))
    ids = np.tile(np.arange(frame.n_struts), len(cells))
    t0, t1 = np.zeros(len(p)), np.ones(len(p))  # Liang-Barsky clipping of p + t d, t in [0, 1]
    eps = 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(3):
            ta, tb = (lo[k] - eps - p[:, k]) / d[:, k], (hi[k] + eps - p[:, k]) / d[:, k]
            flat = d[:, k] == 0
            inside = (p[:, k] >= lo[k] - eps) & (p[:, k] <= hi[k] + eps)
            t0 = np.where(flat, np.where(inside, t0, 2.0), np.maximum(t0, np.minimum(ta, tb)))
            t1 = np.where(flat, t1, np.minimum(t1, np.maximum(ta, tb)))
    keep = t1 - t0 > 1e-9
    seg = np.stack([p + t0[:, None] * d, p + t1[:, None] * d], axis=1)[keep]
    return seg @ frame.lattice_vectors, ids[keep]


frame_segments = _frame_segments  # public name (used by trussvae.viz.training_figures)


def _finish_axes(ax, points, title):
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.04 * float((hi - lo).max() or 1.0)
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_zlim(lo[2] - pad, hi[2] + pad)
    ax.set_box_aspect(np.maximum(hi - lo + 2 * pad, 1e-9))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def plot_frame(
    frame,
    ax=None,
    tessellate=(1, 1, 1),
    color_by=None,
    title=None,
    origin=(0.0, 0.0, 0.0),
    max_linewidth: float = 8.0,
    alpha: float = 1.0,
):
    """Draw a :class:`~trussvae.fem.PeriodicFrame` as 3D lines with its unit-cell box.

    Parameters
    ----------
    frame : PeriodicFrame
    ax : matplotlib 3D axes, optional; a new Agg figure is made when ``None``.
    tessellate : (3,) int, number of cells drawn along each lattice vector.
    color_by : None, a colour, ``"radius"``, ``"length"``, ``"orientation"`` (RGB = |direction|)
        or an (E,) array of per-strut values (mapped with viridis).
    title : str, optional.
    origin : (3,) fractional corner of the drawn box (design-space cells look best centred on the
        mirror centre, ``origin=(-0.5, -0.5, -0.5)``); struts are clipped to the box.
    max_linewidth : line width (points) of a strut whose radius is 1/8 of the cell side.
    alpha : opacity of the struts (e.g. 0.3 for a faded drawing of an invalid decode).

    Returns
    -------
    The matplotlib 3D axes.
    """
    from matplotlib import colormaps
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    ax = _new_3d_axes(ax)
    seg, ids = _frame_segments(frame, tessellate, origin)
    side = frame.cell_volume() ** (1 / 3) * max(tessellate)
    widths = np.clip(frame.radii()[ids] / side * 8 * max_linewidth, 0.4, max_linewidth)
    named = isinstance(color_by, str)
    if color_by is None or (named and color_by not in ("radius", "length", "orientation")):
        colors = color_by or "#30405a"
    elif named and color_by == "orientation":
        vec = frame.strut_vectors()
        colors = np.abs(vec / np.linalg.norm(vec, axis=1, keepdims=True))[ids] * 0.85
    else:
        values = {"radius": frame.radii, "length": frame.strut_lengths}[color_by]() if named else color_by
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (frame.n_struts,):
            raise ValueError(
                f"color_by: expected {frame.n_struts} per-strut values, got shape {values.shape}"
            )
        values = values[ids]
        colors = colormaps["viridis"]((values - values.min()) / (np.ptp(values) or 1.0))
    ax.add_collection3d(Line3DCollection(seg, colors=colors, linewidths=widths, capstyle="round", alpha=alpha))
    box = _box_segments(frame.lattice_vectors, tessellate, origin)
    ax.add_collection3d(Line3DCollection(box, colors="0.6", linewidths=0.6, linestyles="--"))
    _finish_axes(ax, box.reshape(-1, 3), title)
    return ax


def plot_truss_graph(graph, ax=None, full_cell=True, title=None, show_inactive=False, show_dofs=False,
                     color=None, alpha: float = 1.0):
    """Draw a :class:`~trussvae.design_space.TrussGraph`.

    Parameters
    ----------
    graph : TrussGraph
    ax : matplotlib 3D axes, optional.
    full_cell : draw the mirrored periodic unit cell (:meth:`TrussGraph.to_frame`); otherwise the
        octant in natural coordinates with nodes coloured by type and labelled by name.
    title : str, optional.
    show_inactive : octant view: also draw (faintly) and label the nodes without struts.
    show_dofs : octant view: draw each shown node's free axes as short grey bars.
    color : strut colour (default dark blue-grey).
    alpha : opacity of struts and nodes (e.g. 0.3 for a faded drawing of an invalid decode).

    Returns
    -------
    The matplotlib 3D axes.
    """
    if full_cell:
        return plot_frame(graph.to_frame(), ax=ax, title=title, origin=(-0.5, -0.5, -0.5), color_by=color,
                          alpha=alpha)
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    from trussvae.design_space import octant

    ax = _new_3d_axes(ax)
    pos = np.asarray(graph.positions)
    box = _box_segments(np.eye(3))
    ax.add_collection3d(Line3DCollection(box, colors="0.6", linewidths=0.6, linestyles="--"))
    if graph.n_struts:
        seg = np.stack([pos[graph.edges[:, 0]], pos[graph.edges[:, 1]]], axis=1)
        ax.add_collection3d(Line3DCollection(seg, colors=color or "#30405a", linewidths=2.0, alpha=alpha))
    shown = np.ones(octant.N_NODES, bool) if show_inactive else graph.active
    shown = shown & np.all(np.isfinite(pos), axis=1)
    for k in np.flatnonzero(shown):
        t = int(octant.NODE_TYPES[k])
        a = alpha * (1.0 if graph.active[k] or not graph.n_struts else 0.4)
        ax.scatter(*pos[k], s=36, color=TYPE_COLORS[t], alpha=a, depthshade=False)
        ax.text(*(pos[k] + 0.04), octant.NODE_NAMES[k], fontsize=7, color=TYPE_COLORS[t], alpha=a)
        if show_dofs:
            for d in np.flatnonzero(octant.FREE_MASK[k]):
                bar = np.repeat(pos[k][None], 2, axis=0)
                bar[:, d] += (-0.12, 0.12)
                ax.plot(*bar.T, color="0.45", linewidth=1.2)
    for t, name in enumerate(octant.TYPE_NAMES):
        ax.scatter([], [], [], color=TYPE_COLORS[t], label=name)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    _finish_axes(ax, box.reshape(-1, 3), title)
    return ax


def figure_sheet(
    frames_or_graphs, titles=None, ncols: int = 3, path=None, panel_size: float = 3.2, dpi: int = 120
):
    """A grid of 3D drawings (graphs as full cells), saved to ``path`` (PNG) when given.

    Parameters
    ----------
    frames_or_graphs : sequence of PeriodicFrame or TrussGraph.
    titles : sequence of str, optional (one per panel).
    ncols : panels per row.
    path : output file, optional; its format follows the suffix.

    Returns
    -------
    The matplotlib Figure.
    """
    from matplotlib.figure import Figure

    items = list(frames_or_graphs)
    titles = list(titles) if titles is not None else [None] * len(items)
    if len(titles) != len(items):
        raise ValueError(f"figure_sheet: {len(titles)} titles for {len(items)} panels")
    ncols = max(1, min(int(ncols), len(items) or 1))
    nrows = max(1, -(-len(items) // ncols))
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows))
    for i, (item, title) in enumerate(zip(items, titles)):
        ax = fig.add_subplot(nrows, ncols, i + 1, projection="3d")
        if hasattr(item, "to_frame"):
            plot_truss_graph(item, ax=ax, full_cell=True, title=title)
        else:
            plot_frame(item, ax=ax, title=title)
    top = 1.0 - 0.4 / (panel_size * nrows)  # room for two-line titles
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=top, wspace=0.02, hspace=0.12)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def _plotly_lines(go, seg, name, **line):
    xyz = np.concatenate([seg, np.full((len(seg), 1, 3), np.nan)], axis=1).reshape(-1, 3)  # NaN breaks lines
    return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name=name, line=line)


def plotly_frame(frame, tessellate=(1, 1, 1), color: str = "#30405a", title=None, origin=(0.0, 0.0, 0.0)):
    """An interactive plotly Figure of a frame (arguments as :func:`plot_frame`); one trace per radius."""
    import plotly.graph_objects as go

    seg, ids = _frame_segments(frame, tessellate, origin)
    radii = np.round(frame.radii()[ids], 6)
    side = frame.cell_volume() ** (1 / 3) * max(tessellate)
    fig = go.Figure()
    for r in np.unique(radii):
        width = float(np.clip(r / side * 60, 1, 14))
        fig.add_trace(_plotly_lines(go, seg[radii == r], f"r={r:.4g}", color=color, width=width))
    box = _box_segments(frame.lattice_vectors, tessellate, origin)
    fig.add_trace(_plotly_lines(go, box, "cell", color="gray", width=1, dash="dash"))
    margin = dict(l=0, r=0, t=30 if title else 0, b=0)
    fig.update_layout(title=title, showlegend=False, scene=dict(aspectmode="data"), margin=margin)
    return fig
