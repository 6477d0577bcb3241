"""Write the design-space figures of docs/design_space.md.

Usage: ``python docs/figures/make_design_space_figures.py [output_dir]`` (default: this folder).

- ``octant_template.png``: the 27 template nodes in the octant [0, 1]^3 (natural coordinates),
  labelled and coloured by type, with their free axes drawn as short bars.
- ``elementary_lattices.png``: the full unit cells of the six elementary lattices, centred on
  the mirror centre v0 (cell [-0.5, 0.5]^3), line width from the radius at relative density 0.15.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from trussvae.design_space import TrussGraph
from trussvae.generation.elementary import ELEMENTARY_NAMES, elementary
from trussvae.viz import figure_sheet, plot_truss_graph


def main(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="3d")
    template = TrussGraph(np.eye(27, dtype=bool))  # no struts: every node drawn at its template position
    plot_truss_graph(
        template,
        ax=ax,
        full_cell=False,
        show_inactive=True,
        show_dofs=True,
        title="27-node octant template (natural coordinates, bars = free axes)",
    )
    ax.view_init(elev=22, azim=-58)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.94)
    paths = [out_dir / "octant_template.png", out_dir / "elementary_lattices.png"]
    fig.savefig(paths[0], dpi=130)
    graphs = [elementary(name) for name in ELEMENTARY_NAMES]
    titles = [
        f"{name}\n{g.to_frame().n_nodes} nodes, {g.to_frame().n_struts} struts"
        for name, g in zip(ELEMENTARY_NAMES, graphs)
    ]
    figure_sheet(graphs, titles, ncols=3, path=paths[1], dpi=110)
    return paths


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent):
        print(p)
