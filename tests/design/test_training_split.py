"""design.py's training set is the split the checkpoint was trained with (seed, fractions and mode)."""

from __future__ import annotations

import numpy as np
import pytest

from trussvae.data.splits import load_or_create_split, topology_groups
from trussvae.design.run import load_training_set
from trussvae.models.checkpoint import dataset_record


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from trussvae.generation import build_dataset
    from trussvae.generation.label import label_dataset

    s = build_dataset(tmp_path_factory.mktemp("split") / "ds", 40, seed=3, chunk_size=40, scheduler="sync",
                      progress=False)
    label_dataset(s, scheduler="sync", progress=False)
    return s


def test_training_set_follows_the_split_mode(store):
    structures = store.load_structures()
    expected = {}
    for mode in ("random", "topology"):
        groups = topology_groups(structures) if mode == "topology" else None
        rows = load_or_create_split(store.root, 40, (0.5, 0.25, 0.25), 1, mode, groups)["train"]
        expected[mode] = set(structures["hashes"][rows].tolist())
        got = load_training_set(store.root, "linear", 1, (0.5, 0.25, 0.25), split=mode)
        assert set(got.hashes.tolist()) == expected[mode] and len(got.props) == len(rows)
    assert expected["random"] != expected["topology"]  # the two modes do give other training sets
    assert (store.root / "splits" / "split_topology_seed1.npz").is_file()
    with pytest.raises(ValueError, match="data.split"):
        load_training_set(store.root, "linear", 1, (0.5, 0.25, 0.25), split="by_hash")


def test_checkpoint_record_holds_the_split_mode(store):
    rec = dataset_record(store.root, 1, (0.5, 0.25, 0.25), split="topology")
    assert rec["split"] == "topology" and rec["split_fractions"] == [0.5, 0.25, 0.25]
    assert dataset_record(store.root, 0, (0.8, 0.1, 0.1))["split"] == "random"
    assert np.isclose(sum(rec["split_fractions"]), 1.0)
