"""Shared fixtures: a tiny labelled lattice store (300 structures, 4 chunks)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _labels_for(graphs) -> dict[str, np.ndarray]:
    """Linear labels following the label contract (:mod:`trussvae.generation.label`), by real FE."""
    from trussvae.fem import homogenize_many
    from trussvae.fem.elasticity import DEFAULT_RELATIVE_DENSITY, orthotropic_components

    frames = [g.to_frame(relative_density=DEFAULT_RELATIVE_DENSITY) for g in graphs]
    C = homogenize_many(frames, errors="nan")
    radius = np.array([float(np.mean(f.radius)) for f in frames])
    ortho = orthotropic_components(C)
    ok = np.all(np.isfinite(ortho), axis=1)
    return {"orthotropic": ortho, "stiffness": C, "radius": radius, "ok": ok}


def write_linear_labels(store) -> None:
    """Label every structure chunk of ``store`` (rows aligned with the chunk's rows)."""
    from trussvae.design_space.truss_graph import arrays_to_graph

    for c in store.structure_chunks():
        chunk = store.read_structure_chunk(c)
        graphs = [arrays_to_graph(a, o) for a, o in zip(chunk["adjacency"], chunk["offsets"])]
        labels = _labels_for(graphs)
        store.write_label_chunk("linear", c, {"n": len(graphs), "failed": int((~labels["ok"]).sum())}, **labels)


@pytest.fixture(scope="session")
def labelled_store(tmp_path_factory):
    """A 300-structure store with linear labels (built once per test session)."""
    from trussvae.generation import build_dataset

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("store") / "lattices_seed0"
    store = build_dataset(root, 300, seed=0, chunk_size=100, scheduler="sync", progress=False)
    write_linear_labels(store)
    return store


@pytest.fixture(scope="session")
def store_rows(labelled_store):
    """The tiny store's rows with valid linear labels: adjacency (n, 351) and offsets (n, 27) float32
    tensors, and the (n, 9) orthotropic FE labels (float64)."""
    s = labelled_store.load_structures()
    lab = labelled_store.load_labels("linear")
    y = np.asarray(lab["orthotropic"], dtype=np.float64)
    ok = np.asarray(lab["ok"], bool) & np.all(np.isfinite(y), axis=1)
    adj = torch.as_tensor(s["adjacency"][ok], dtype=torch.float32)
    off = torch.as_tensor(s["offsets"][ok], dtype=torch.float32)
    return adj, off, y[ok]


@pytest.fixture
def load_script():
    """``load_script("name")``: the module of ``scripts/name.py`` (scripts are not a package)."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
