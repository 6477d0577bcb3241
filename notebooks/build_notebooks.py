"""Write the tutorial notebooks from their cells (keeps the .ipynb files reviewable as Python).

    python notebooks/build_notebooks.py

The notebooks are executed by tests/test_notebooks.py (with small settings) so they never rot.
"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent

NB1 = [
    ("md", "# 1. The design space and FE homogenization\n\nThe 27-node octant template, `TrussGraph`, "
           "mirroring into the periodic unit cell, validity, and the linear FE homogenizer. "
           "Conventions: `docs/design_space.md`, `docs/fem.md`."),
    ("code", "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\n"
             "from trussvae.design_space import TrussGraph, octant\n"
             "from trussvae.generation import elementary, generate_structures\n"
             "from trussvae.fem import homogenize, homogenize_many, PeriodicFrame\n"
             "from trussvae.fem import elasticity as el\n"
             "print(octant.NODE_NAMES)"),
    ("md", "## An elementary lattice, its full unit cell and its stiffness"),
    ("code", "octet = elementary('octet')\nprint(octet, octet.validate())\n"
             "frame = octet.to_frame(relative_density=0.15)\n"
             "print(frame, 'rho =', round(frame.relative_density(), 4))\n"
             "C = homogenize(frame)\nnp.set_printoptions(precision=4, suppress=True)\nprint(C)\n"
             "print('E11, E22, E33 =', el.youngs_moduli(C))\nassert abs(C[0, 0] - C[1, 1]) < 1e-10  # cubic symmetry"),
    ("md", "## Build your own truss from named nodes and offsets; validity gives reasons"),
    ("code", "mine = TrussGraph.from_edges([('v0', 'e0'), ('e0', 'v1'), ('v0', 'v3'), ('v0', 'v4'), ('e0', 't0'),\n"
             "                              ('t0', 'v6')], offsets={'e0': 0.1, 't0': [0.1, -0.2, 0.0]})\n"
             "print(mine.validate() or 'valid')\n"
             "bad = TrussGraph.from_edges([('v0', 'v2'), ('v1', 'v3')])  # crossing face diagonals\n"
             "print(bad.validate())"),
    ("code", "from trussvae.viz.truss3d import figure_sheet\n"
             "graphs = generate_structures(6, seed=0)\n"
             "Cs = homogenize_many([g.to_frame() for g in graphs])\n"
             "titles = [f'E33 = {e:.4f}' for e in el.youngs_moduli(Cs)[:, 2]]\n"
             "fig = figure_sheet(graphs, titles, ncols=3)\nfig"),
    ("md", "## Any periodic lattice: a PeriodicFrame of your own (here a triclinic-cell FCC)"),
    ("code", "a = 1.0\nfcc_primitive = PeriodicFrame([[0, a/2, a/2], [a/2, 0, a/2], [a/2, a/2, 0]], [[0, 0, 0]],\n"
             "    struts=[[0, 0]] * 6, shifts=[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, -1, 0], [0, 1, -1], [1, 0, -1]],\n"
             "    radius=0.01).with_relative_density(0.05)\n"
             "print(el.youngs_moduli(homogenize(fcc_primitive)))"),
    ("code", "from trussvae.viz.elastic_surface import plot_elastic_surface\nimport matplotlib.pyplot as plt\n"
             "ax = plot_elastic_surface(C, title='octet: E(d)')\nplt.gcf()"),
]

NB2 = [
    ("md", "# 2. Latent exploration and inverse design\n\nTrains a small VAE on a small data set "
           "(a few minutes; set `N` and `EPOCHS` larger for a useful model, or point `CKPT` at a trained "
           "checkpoint), then samples, interpolates, traverses the latent space and designs an auxetic "
           "lattice, every result verified by FE."),
    ("code", "import json, os, subprocess, sys\nfrom pathlib import Path\nimport numpy as np\nimport matplotlib\n"
             "matplotlib.use('Agg')\n"
             "ROOT = Path(os.environ.get('TRUSSVAE_ROOT', Path.cwd().parent)).resolve()\n"
             "WORK = Path(os.environ.get('TRUSSVAE_WORK', ROOT / 'outputs' / 'notebook')).resolve()\n"
             "N = int(os.environ.get('TRUSSVAE_NB_N', 3000))\nEPOCHS = int(os.environ.get('TRUSSVAE_NB_EPOCHS', 30))\n"
             "CKPT = os.environ.get('TRUSSVAE_NB_CKPT')  # a trained checkpoint, if you have one\n"
             "DATA = WORK / 'data'"),
    ("code", "def run(*args):\n    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)\n\n"
             "run('homogenize.py', f'n={N}', f'out={DATA}', 'chunk_size=500', 'scheduler=sync', 'progress=false',\n"
             "    f'hydra.run.dir={WORK}/homogenize')\n"
             "if CKPT is None:\n"
             "    run('train.py', f'data.data_dir={DATA}', f'trainer.max_epochs={EPOCHS}', 'data.batch_size=64',\n"
             "        'model.validity_samples=200', 'model.validity_every_n_epochs=100', 'logger=none',\n"
             "        'trainer.enable_progress_bar=false', f'hydra.run.dir={WORK}/train')\n"
             "    CKPT = json.loads((WORK / 'train' / 'metrics.json').read_text())['best_checkpoint']\n"
             "print(CKPT)"),
    ("code", "from trussvae.models import TrussVAE\nfrom trussvae.io import LatticeStore\n"
             "model = TrussVAE.load_from_checkpoint(CKPT, map_location='cpu').eval()\n"
             "store = LatticeStore(DATA)\nprint(model.latent_dim, model.latent_slices)"),
    ("md", "## Prior samples: validity of random decodes"),
    ("code", "from trussvae.design.latent import sample_prior, interpolate, traverse_axis, evaluate_path, path_figure\n"
             "prior = sample_prior(model, 200, seed=0)\nprint('valid raw:', prior.valid.mean())"),
    ("md", "## Interpolation between two trusses (slerp, paper eq. 6), with FE along the path"),
    ("code", "E11 = store.load_labels('linear')['stiffness'][:, 0, 0]\n"
             "a, b = store.graphs([int(E11.argmin()), int(E11.argmax())])\n"
             "path = evaluate_path(interpolate(model, a, b, n=7, method='slerp'))\n"
             "print('E11 along the path:', np.round(path.stiffness[:, 0, 0], 5))\n"
             "fig = path_figure(path, WORK / 'interpolation.png', quantity='E11')\nfig"),
    ("md", "## Traversal along one latent axis (topology-specific, shared or geometry-specific)"),
    ("code", "axis = model.latent_slices['topology'].start\n"
             "trav = evaluate_path(traverse_axis(model, a, axis=axis, span=2.0, n=5))\n"
             "print(trav.label, trav.valid)"),
    ("md", "## Inverse design: minimise nu21 (auxetic), ranked by FE"),
    ("code", "from trussvae.design import InverseDesignConfig, named_target\n"
             "from trussvae.design.run import design_run\n"
             "res = design_run(CKPT, DATA, named_target('auxetic'), WORK / 'design',\n"
             "                 InverseDesignConfig.from_dict({'search': {'n_starts': 20, 'n_steps': 40, 'eval_every': 5},\n"
             "                                                'polish': {'top': 1, 'steps': 5}}),\n"
             "                 n_stl=1, tessellation=(2, 2, 2), progress=False)\n"
             "best = res['candidates'][0]\n"
             "print('best training nu21', res['best_training_value'], '-> best FE-verified', best['fe_value'])\n"
             "print('STL:', best['stl'])"),
    ("code", "from IPython.display import Markdown\nMarkdown((WORK / 'design' / 'report.md').read_text()[:1500])"),
]


def build(cells, path):
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    build(NB1, HERE / "01-design-space-and-fem.ipynb")
    build(NB2, HERE / "02-latent-exploration-and-design.ipynb")
