"""Split modes: random (by structure) and topology (every variant of a topology in one split)."""

import numpy as np
import pytest

from trussvae.data import TrussDataModule
from trussvae.data.splits import load_or_create_split, make_split, split_path, topology_groups


def test_random_split_reproducible():
    a, b = make_split(500, seed=2, mode="random"), make_split(500, seed=2)
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert not np.array_equal(make_split(500, seed=3)["test"], a["test"])


def test_topology_split_keeps_groups_together():
    groups = np.repeat(np.arange(100), 20)  # 100 topologies x 20 variants
    rng = np.random.default_rng(0)
    groups = groups[rng.permutation(len(groups))]
    a = make_split(len(groups), (0.8, 0.1, 0.1), seed=5, mode="topology", groups=groups)
    b = make_split(len(groups), (0.8, 0.1, 0.1), seed=5, mode="topology", groups=groups)
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert np.array_equal(np.sort(np.concatenate(list(a.values()))), np.arange(len(groups)))
    sets = {s: set(groups[idx].tolist()) for s, idx in a.items()}
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    assert [len(a[s]) for s in ("train", "val", "test")] == [1600, 200, 200]
    c = make_split(len(groups), (0.8, 0.1, 0.1), seed=6, mode="topology", groups=groups)
    assert not np.array_equal(c["test"], a["test"])
    # the random mode mixes the variants of a topology across splits
    r = make_split(len(groups), seed=5)
    assert set(groups[r["train"]].tolist()) & set(groups[r["test"]].tolist())


def test_topology_groups_from_ids_or_adjacency():
    adj = np.zeros((5, 351), bool)
    adj[[0, 2, 4], 3] = True
    adj[1, 7] = True
    g = topology_groups({"adjacency": adj})
    assert g[0] == g[2] == g[4] and len({g[0], g[1], g[3]}) == 3
    np.testing.assert_array_equal(topology_groups({"adjacency": adj, "topology": np.array([4, 4, 1, 1, 0])}),
                                  [4, 4, 1, 1, 0])


def test_bad_split_arguments():
    with pytest.raises(ValueError, match="data.split"):
        make_split(10, mode="structure")
    with pytest.raises(ValueError, match="groups"):
        make_split(10, mode="topology")
    with pytest.raises(ValueError, match="shape"):
        make_split(10, mode="topology", groups=np.arange(9))


def test_split_files_carry_the_mode_and_refuse_a_mismatch(tmp_path):
    groups = np.repeat(np.arange(30), 4)
    t = load_or_create_split(tmp_path, 120, seed=1, mode="topology", groups=groups)
    assert split_path(tmp_path, 1, "topology").is_file() and not split_path(tmp_path, 1, "random").exists()
    again = load_or_create_split(tmp_path, 120, seed=1, mode="topology", groups=groups)
    assert all(np.array_equal(t[s], again[s]) for s in t)
    split_path(tmp_path, 1, "topology").rename(split_path(tmp_path, 1, "random"))
    with pytest.raises(ValueError, match="'topology' split"):
        load_or_create_split(tmp_path, 120, seed=1, mode="random")
    load_or_create_split(tmp_path, 120, seed=2, mode="random")
    split_path(tmp_path, 2, "random").rename(split_path(tmp_path, 2, "topology"))
    with pytest.raises(ValueError, match="'random' split"):
        load_or_create_split(tmp_path, 120, seed=2, mode="topology", groups=groups)


def test_datamodule_topology_split(labelled_store):
    dm = TrussDataModule(str(labelled_store.root), batch_size=32, split_seed=21, split="topology")
    dm.setup("fit")
    assert split_path(labelled_store.root, 21, "topology").is_file()
    groups = topology_groups(labelled_store.load_structures())
    seen = {s: set(groups[dm.datasets[s].tensors["index"].numpy()].tolist()) for s in ("train", "val", "test")}
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["val"])
    with pytest.raises(ValueError, match="data.split"):
        TrussDataModule(str(labelled_store.root), split="by_topology")
