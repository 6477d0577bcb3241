"""Write docs/figures/generated_lattices.png: eight generated lattices (full unit cells, rho = 0.15).

    python docs/figures/make_generated_figure.py
"""

from pathlib import Path

from trussvae.fem import homogenize
from trussvae.fem.elasticity import youngs_moduli
from trussvae.generation import generate_structures
from trussvae.viz.truss3d import figure_sheet

OUT = Path(__file__).with_name("generated_lattices.png")


def main() -> None:
    graphs = generate_structures(400, seed=0, chunk_size=400)[::50][:8]
    titles = []
    for g in graphs:
        frame = g.to_frame(relative_density=0.15)
        E = youngs_moduli(homogenize(frame))
        titles.append(f"{frame.n_nodes} nodes, {frame.n_struts} struts\nE = {E[0]:.4f}, {E[1]:.4f}, {E[2]:.4f}")
    figure_sheet(graphs, titles, ncols=4, path=OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
