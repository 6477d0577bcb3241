"""FE labelling of a store: labels aligned with structures, failures recorded, resumable."""

import numpy as np
import pytest

from trussvae.design_space import TrussGraph
from trussvae.design_space.truss_graph import graph_to_arrays
from trussvae.fem import homogenize
from trussvae.fem.elasticity import orthotropic_components
from trussvae.fem.settings import LinearFESettings
from trussvae.generation import build_dataset
from trussvae.generation.label import label_dataset
from trussvae.io import LatticeStore, StoreError


@pytest.fixture()
def store(tmp_path):
    return build_dataset(tmp_path / "ds", 120, seed=4, chunk_size=60, scheduler="sync", progress=False)


def test_labels_match_direct_homogenization(store):
    label_dataset(store, scheduler="sync", progress=False)
    labels = store.load_labels("linear")
    assert labels["orthotropic"].shape == (120, 9) and labels["stiffness"].shape == (120, 6, 6)
    assert labels["ok"].all()
    graphs = store.graphs([0, 77])
    for i, g in zip((0, 77), graphs):
        frame = g.to_frame(relative_density=0.15)
        C = homogenize(frame)
        np.testing.assert_allclose(labels["stiffness"][i], C, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(labels["orthotropic"][i], orthotropic_components(C))
        assert labels["radius"][i] == pytest.approx(frame.radius)
    assert store.meta["labels"]["linear"]["fe"]["relative_density"] == 0.15


def test_failed_structure_is_recorded_and_batch_goes_on(store):
    # corrupt one row: a lattice with struts along x only cannot carry load in y or z
    data = store.read_structure_chunk(0)
    adj, off = graph_to_arrays(TrussGraph.from_edges([("v0", "v1")]))
    data["adjacency"][5], data["offsets"][5] = adj, off
    np.savez(store.root / "structures" / "chunk-000000.npz", **data)
    label_dataset(store, scheduler="sync", progress=False)
    chunk = store.read_label_chunk("linear", 0)
    assert not chunk["ok"][5] and np.isnan(chunk["stiffness"][5]).all()
    assert chunk["ok"].sum() == len(chunk["ok"]) - 1
    failures = store.chunk_stats(0, "linear")["failures"]
    assert failures[0]["row"] == 5 and "direction" in failures[0]["reason"]


def test_resume_labels_only_missing_chunks(store):
    label_dataset(store, scheduler="sync", progress=False)
    d = store.root / "labels" / "linear"
    keep = (d / "chunk-000000.npz").stat().st_mtime_ns
    (d / "chunk-000001.json").unlink()
    label_dataset(LatticeStore(store.root), scheduler="sync", progress=False)
    assert (d / "chunk-000000.npz").stat().st_mtime_ns == keep
    assert (d / "chunk-000001.json").is_file()


def test_a_task_run_again_for_a_written_chunk_returns_it(store, monkeypatch):
    """Dask re-runs the finished tasks of a worker it lost (e.g. one paused with SIGSTOP): the second run of a
    chunk's task returns the chunk on disk instead of repeating its FE work."""
    from dataclasses import asdict

    from trussvae.generation import label as label_mod
    from trussvae.generation.label import label_chunk_linear

    settings = asdict(LinearFESettings())
    first = label_chunk_linear(str(store.root), settings, 0)
    d = store.root / "labels" / "linear"
    keep = (d / "chunk-000000.npz").stat().st_mtime_ns

    def no_fe(*args, **kwargs):
        raise AssertionError("the FE ran again for a chunk already written")

    monkeypatch.setattr(label_mod, "homogenize_many", no_fe)
    assert label_chunk_linear(str(store.root), settings, 0) == first
    assert (d / "chunk-000000.npz").stat().st_mtime_ns == keep
    with pytest.raises(AssertionError, match="FE ran again"):      # an unwritten chunk is computed
        label_chunk_linear(str(store.root), settings, 1)


def test_refuses_other_fe_settings_and_bad_settings(store):
    label_dataset(store, scheduler="sync", progress=False)
    with pytest.raises(StoreError, match="computed with"):
        label_dataset(store, LinearFESettings(relative_density=0.1), scheduler="sync", progress=False)
    with pytest.raises(ValueError, match="beam"):
        LinearFESettings(beam="bernoulli")
    with pytest.raises(ValueError, match="relative_density"):
        LinearFESettings(relative_density=1.5)


def test_missing_labels_say_how_to_finish(store):
    with pytest.raises(StoreError, match="homogenize.py"):
        store.load_labels("linear")


def test_nonlinear_labels_of_a_subset(tmp_path):
    from trussvae.fem.nonlinear import uniaxial_compression
    from trussvae.fem.settings import NonlinearFESettings

    store = build_dataset(tmp_path / "ds", 8, seed=4, chunk_size=4, scheduler="sync", progress=False)
    fe = NonlinearFESettings(max_strain=0.05, time_limit=30.0)
    label_dataset(store, fe, scheduler="sync", progress=False, max_rows=4)  # only the first chunk
    assert store.label_chunks("nonlinear") == [0]
    with pytest.raises(StoreError, match="missing"):
        store.load_labels("nonlinear")
    labels = store.load_labels("nonlinear", allow_partial=True)
    assert labels["stress"].shape == (8, 13)
    assert not labels["ok"][4:].any() and np.isnan(labels["stress"][4:]).all()
    chunk = store.read_label_chunk("nonlinear", 0)
    g = store.graphs([0])[0]
    direct = uniaxial_compression(g.to_frame(relative_density=0.15), max_strain=0.05)
    np.testing.assert_allclose(chunk["stress"][0], direct.stress, rtol=1e-6, equal_nan=True)
    assert np.isfinite(chunk["stress"][0, :3]).all() and np.isnan(chunk["stress"][0, 3:]).all()  # 0.5..4.5%
    assert store.meta["labels"]["nonlinear"]["fe"]["max_strain"] == 0.05
    from trussvae.fem.nonlinear import SOLVER_REVISION

    assert store.chunk_stats(0, "nonlinear")["solver"] == SOLVER_REVISION  # how the labels were made
