"""Elastic surfaces: the directional Young's modulus E(d) as a closed 3D surface (paper Figs. 3-5)."""

from __future__ import annotations

import numpy as np

from trussvae.fem.elasticity import elastic_surface

__all__ = ["plot_elastic_surface"]


def plot_elastic_surface(C: np.ndarray, ax=None, n_theta: int = 40, n_phi: int = 80, title: str | None = None,
                         cmap: str = "viridis"):
    """Draw E(d) d over the unit sphere on a matplotlib 3D axis, coloured by E(d). Returns the axis."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib import colors

    pts, vals = elastic_surface(C, n_theta, n_phi)
    if ax is None:
        ax = plt.figure(figsize=(4, 4)).add_subplot(projection="3d")
    norm = colors.Normalize(vals.min(), vals.max() if vals.max() > vals.min() else vals.min() + 1e-12)
    ax.plot_surface(pts[..., 0], pts[..., 1], pts[..., 2], facecolors=matplotlib.colormaps[cmap](norm(vals)),
                    rstride=1, cstride=1, linewidth=0, antialiased=False, shade=False)
    r = float(np.abs(pts).max())
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_zlim(-r, r)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("e1")
    ax.set_ylabel("e2")
    ax.set_zlabel("e3")
    ax.set_title(title or f"E(d): {vals.min():.3g} .. {vals.max():.3g}")
    return ax
