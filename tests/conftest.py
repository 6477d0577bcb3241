"""Shared fixtures: a tiny labelled lattice store (300 structures, 4 chunks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def _labels_for(graphs) -> dict[str, np.ndarray]:
    """Linear labels following the label contract: real FE when available, else a smooth stand-in."""
    n = len(graphs)
    try:
        from trussvae.fem import homogenize_many

        frames = [g.to_frame(relative_density=0.15) for g in graphs]
        C = homogenize_many(frames, E_s=1.0, nu_s=0.3, beam="timoshenko", errors="nan")
        radius = np.array([float(np.mean(f.radius)) for f in frames])
    except ImportError:  # FE module not there yet: deterministic synthetic labels from the structure
        adj = np.stack([g.to_vae_input()[0] for g in graphs]).astype(np.float64)
        off = np.stack([g.offsets for g in graphs])
        w = np.random.default_rng(123).normal(size=(351, 6)) / 351
        diag = np.exp(-6.0 + 3.0 * np.tanh(adj @ w * 20 + off[:, :6]))
        C = np.zeros((n, 6, 6))
        C[:, range(6), range(6)] = diag
        C[:, 0, 1] = C[:, 1, 0] = 0.3 * np.sqrt(diag[:, 0] * diag[:, 1])
        C[:, 0, 2] = C[:, 2, 0] = 0.3 * np.sqrt(diag[:, 0] * diag[:, 2])
        C[:, 1, 2] = C[:, 2, 1] = 0.3 * np.sqrt(diag[:, 1] * diag[:, 2])
        radius = np.full(n, 0.03)
    ortho = np.stack([C[:, 0, 0], C[:, 0, 1], C[:, 0, 2], C[:, 1, 1], C[:, 1, 2], C[:, 2, 2],
                      C[:, 3, 3], C[:, 4, 4], C[:, 5, 5]], axis=1)
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
