"""Visualisation: 3D truss drawings (:mod:`trussvae.viz.truss3d`) and elastic surfaces
(:mod:`trussvae.viz.elastic_surface`). Matplotlib/plotly are imported lazily, inside the functions.
"""

from trussvae.viz.truss3d import TYPE_COLORS, figure_sheet, plot_frame, plot_truss_graph, plotly_frame

__all__ = ["plot_frame", "plot_truss_graph", "figure_sheet", "plotly_frame", "TYPE_COLORS"]
