"""The tutorial notebooks run top to bottom (small settings), so they never rot."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _execute(name, tmp_path, **env):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    old = dict(os.environ)
    os.environ.update({"TRUSSVAE_ROOT": str(ROOT), "TRUSSVAE_WORK": str(tmp_path), "MPLBACKEND": "Agg",
                       "WANDB_MODE": "offline", **env})
    try:
        client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def test_design_space_notebook(tmp_path):
    nb = _execute("01-design-space-and-fem.ipynb", tmp_path)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "struts" in text and "valid" in text


def test_latent_and_design_notebook(tmp_path):
    _execute("02-latent-exploration-and-design.ipynb", tmp_path, TRUSSVAE_NB_N="1000", TRUSSVAE_NB_EPOCHS="40")
    assert (tmp_path / "design" / "results.json").is_file()
    assert (tmp_path / "interpolation.png").stat().st_size > 1000


@pytest.mark.parametrize("name", ["01-design-space-and-fem.ipynb", "02-latent-exploration-and-design.ipynb"])
def test_notebooks_are_built_from_the_builder(name):
    """The committed .ipynb match notebooks/build_notebooks.py (edit the builder, then rebuild)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "notebooks" / "build_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cells = mod.NB1 if name.startswith("01") else mod.NB2
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert [c.source for c in nb.cells] == [src for _, src in cells]
