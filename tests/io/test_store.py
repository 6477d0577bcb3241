"""The chunked store and the resumable data-set builder."""

import json
import os

import numpy as np
import pytest

from trussvae.generation import GeneratorConfig, build_dataset
from trussvae.io import LatticeStore, StoreError


def _mtimes(root):
    return {p.name: p.stat().st_mtime_ns for p in (root / "structures").iterdir()}


def test_build_records_provenance_and_is_complete(tmp_path):
    store = build_dataset(tmp_path / "ds", 250, seed=3, chunk_size=100, scheduler="sync", progress=False)
    assert len(store) == 250
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["generator"]["seed"] == 3 and meta["generator"]["chunk_size"] == 100
    assert meta["generator"]["generator_version"] and meta["design_space"] == "octant27-v1"
    assert meta["rejections"]
    s = store.load_structures()
    assert s["adjacency"].shape == (250, 351) and s["offsets"].shape == (250, 27)
    assert len(set(s["hashes"])) == 250
    assert all(g.validate() == [] for g in store.graphs(range(0, 250, 25)))


def test_resume_after_interruption_recomputes_only_missing_chunks(tmp_path):
    root = tmp_path / "ds"
    build_dataset(root, 300, seed=1, chunk_size=100, scheduler="sync", progress=False)
    reference = LatticeStore(root).load_structures()
    # simulate a kill: chunk 1 never finished (no completion marker, a torn temp file), no index
    (root / "structures" / "chunk-000001.json").unlink()
    (root / "structures" / ".chunk-000001.npz.123.tmp").write_bytes(b"torn")
    (root / "index.npz").unlink()
    before = _mtimes(root)
    store = build_dataset(root, 300, seed=1, chunk_size=100, scheduler="sync", progress=False)
    after = _mtimes(root)
    for name in ("chunk-000000.npz", "chunk-000002.npz", "chunk-000000.json", "chunk-000002.json"):
        assert before[name] == after[name]  # finished chunks untouched
    assert after["chunk-000001.npz"] != before["chunk-000001.npz"]
    resumed = store.load_structures()
    for k in reference:
        np.testing.assert_array_equal(resumed[k], reference[k])


def test_incomplete_store_says_how_to_resume(tmp_path):
    root = tmp_path / "ds"
    build_dataset(root, 50, seed=1, chunk_size=50, scheduler="sync", progress=False)
    (root / "index.npz").unlink()
    with pytest.raises(StoreError, match="resume"):
        len(LatticeStore(root))


def test_store_refuses_different_generator_settings(tmp_path):
    root = tmp_path / "ds"
    build_dataset(root, 50, seed=1, chunk_size=50, scheduler="sync", progress=False)
    with pytest.raises(StoreError, match="different"):
        build_dataset(root, 50, seed=2, chunk_size=50, scheduler="sync", progress=False)
    with pytest.raises(StoreError, match="different"):
        build_dataset(root, 50, seed=1, chunk_size=50, config=GeneratorConfig(library_fraction=0.5),
                      scheduler="sync", progress=False)


def test_extending_a_data_set_keeps_its_prefix(tmp_path):
    root = tmp_path / "ds"
    small = build_dataset(root, 120, seed=5, chunk_size=100, scheduler="sync", progress=False).load_structures()
    big = build_dataset(root, 260, seed=5, chunk_size=100, scheduler="sync", progress=False).load_structures()
    np.testing.assert_array_equal(big["hashes"][:120], small["hashes"])


def test_not_a_store_and_malformed_meta(tmp_path):
    with pytest.raises(StoreError, match="not a lattice store"):
        LatticeStore(tmp_path)
    (tmp_path / "meta.json").write_text("{broken")
    with pytest.raises(StoreError, match="malformed JSON"):
        LatticeStore(tmp_path)


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="n must be positive"):
        build_dataset(tmp_path / "x", 0, scheduler="sync")
    with pytest.raises(ValueError, match="chunk_size"):
        build_dataset(tmp_path / "x", 10, chunk_size=0, scheduler="sync")


def test_no_temp_files_left_behind(tmp_path):
    root = tmp_path / "ds"
    build_dataset(root, 30, seed=1, chunk_size=30, scheduler="sync", progress=False)
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert os.path.isfile(root / "index.npz")
