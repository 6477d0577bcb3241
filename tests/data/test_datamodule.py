import numpy as np
import pytest
import torch

from trussvae.data import BatchIndexSampler, TrussDataModule, dense_to_graph, fit_normalizer, make_split, to_pyg_data
from trussvae.data.splits import split_path
from trussvae.design_space import octant

torch.set_num_threads(1)


def test_make_split_reproducible_and_disjoint():
    a, b = make_split(100, (0.8, 0.1, 0.1), seed=3), make_split(100, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert [len(a[s]) for s in ("train", "val", "test")] == [80, 10, 10]
    assert len(np.unique(np.concatenate(list(a.values())))) == 100
    assert not np.array_equal(make_split(100, seed=4)["val"], a["val"])
    with pytest.raises(ValueError):
        make_split(10, (0.5, 0.1, 0.1))


def test_split_saved_and_reused(labelled_store):
    dm = TrussDataModule(str(labelled_store.root), batch_size=32, split_seed=11)
    dm.setup("fit")
    path = split_path(labelled_store.root, 11, "random")
    assert path.is_file()
    mtime = path.stat().st_mtime_ns
    dm2 = TrussDataModule(str(labelled_store.root), batch_size=32, split_seed=11)
    dm2.setup("fit")
    assert path.stat().st_mtime_ns == mtime
    for s in ("train", "val", "test"):
        assert torch.equal(dm.datasets[s].tensors["index"], dm2.datasets[s].tensors["index"])
    with pytest.raises(ValueError, match="delete"):
        TrussDataModule(str(labelled_store.root), split_seed=11, split_fractions=(0.6, 0.2, 0.2)).setup("fit")


def test_normalisation_from_train_only(labelled_store):
    dm = TrussDataModule(str(labelled_store.root), batch_size=32, label_transform="auto")
    dm.setup("fit")
    y = labelled_store.load_labels("linear")["orthotropic"]
    train_idx = dm.datasets["train"].tensors["index"].numpy()
    ref = fit_normalizer(y[train_idx], "auto")
    assert np.allclose(dm.normalizer.mean, ref.mean) and np.allclose(dm.normalizer.std, ref.std)
    all_rows = fit_normalizer(y, "auto")
    assert not np.allclose(dm.normalizer.mean, all_rows.mean)
    yt = dm.datasets["train"].tensors["y"].numpy()
    assert np.allclose(yt.mean(0), 0, atol=1e-4) and np.allclose(yt.std(0), 1, atol=1e-2)
    assert np.allclose(dm.normalizer.denormalize(yt.astype(np.float64)), y[train_idx], rtol=1e-5, atol=1e-8)
    assert dm.normalizer.log_mask[0] and not dm.normalizer.log_mask[1]  # C1111 logged, C1122 not
    plain = TrussDataModule(str(labelled_store.root), batch_size=32)
    plain.setup("fit")
    assert not any(plain.normalizer.log_mask)  # default: z-score only


def test_batches(labelled_store):
    dm = TrussDataModule(str(labelled_store.root), batch_size=64)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batches = list(loader)
    n_train = len(dm.datasets["train"])
    assert len(batches) == -(-n_train // 64)
    b = batches[0]
    assert b["adj"].shape == (64, 351) and b["offsets"].shape == (64, 27) and b["y"].shape == (64, 9)
    assert b["adj"].dtype == torch.float32 and set(b["adj"].unique().tolist()) <= {0.0, 1.0}
    seen = torch.cat([x["index"] for x in batches])
    assert len(seen.unique()) == n_train
    assert not torch.equal(next(iter(loader))["index"], b["index"])  # reshuffled per epoch
    loader.sampler.set_epoch(0)
    assert torch.equal(next(iter(loader))["index"], b["index"])      # epoch-seeded: reproducible on resume
    assert torch.equal(next(iter(dm.val_dataloader()))["index"], next(iter(dm.val_dataloader()))["index"])


def test_sampler_lengths():
    s = BatchIndexSampler(10, 4, shuffle=False, drop_last=False)
    assert [len(b) for b in s] == [4, 4, 2] and len(s) == 3
    assert len(BatchIndexSampler(10, 4, shuffle=True, drop_last=True)) == 2


def test_missing_store_and_labels_fail_clearly(tmp_path, labelled_store):
    with pytest.raises(FileNotFoundError, match="python homogenize.py"):
        TrussDataModule(str(tmp_path / "nope")).setup("fit")
    with pytest.raises(FileNotFoundError, match="nonlinear"):
        TrussDataModule(str(labelled_store.root), target="nonlinear").setup("fit")


def test_pyg_data(labelled_store):
    from torch_geometric.data import Batch

    dm = TrussDataModule(str(labelled_store.root), batch_size=32)
    dm.setup("fit")
    data = dm.pyg_dataset("val")
    assert len(data) == len(dm.datasets["val"])
    d = data[0]
    t = dm.datasets["val"].tensors
    n_struts = int(t["adj"][0].sum())
    assert d.x.shape == (27, 8) and d.edge_index.shape == (2, 2 * n_struts) and d.y.shape == (1, 9)
    assert d.edge_index.dtype == torch.long and d.edge_attr.shape == (2 * n_struts, 4)
    pos = octant.positions_from_offsets(t["offsets"][0].double().numpy())
    assert np.allclose(d.pos.numpy(), pos, atol=1e-6)
    active = d.x[:, 3].bool().numpy()
    assert set(d.edge_index.unique().tolist()) == set(np.flatnonzero(active).tolist())
    batch = Batch.from_data_list(data[:5])
    x, ei, ea, b = dense_to_graph(t["adj"][:5], t["offsets"][:5])
    assert batch.y.shape == (5, 9) and torch.allclose(batch.x, x)
    assert {tuple(e) for e in batch.edge_index.T.tolist()} == {tuple(e) for e in ei.T.tolist()}
    single = to_pyg_data(t["adj"][0].numpy(), t["offsets"][0].numpy())
    assert single.num_nodes == 27


def test_max_train_takes_nested_subsets_and_keeps_val_test(labelled_store):
    full = TrussDataModule(str(labelled_store.root), batch_size=32)
    full.setup("fit")
    subsets = {}
    for k in (20, 60):
        dm = TrussDataModule(str(labelled_store.root), batch_size=32, max_train=k)
        dm.setup("fit")
        subsets[k] = set(dm.datasets["train"].tensors["index"].tolist())
        assert len(subsets[k]) == k
        assert subsets[k] <= set(full.datasets["train"].tensors["index"].tolist())
        for s in ("val", "test"):
            assert torch.equal(dm.datasets[s].tensors["index"], full.datasets[s].tensors["index"])
    assert subsets[20] <= subsets[60]                      # nested: a learning curve adds data
    assert subsets[20] != set(sorted(full.datasets["train"].tensors["index"].tolist())[:20])  # random, not the first
    with pytest.raises(ValueError, match="max_train"):
        TrussDataModule(str(labelled_store.root), max_train=1)
    with pytest.raises(ValueError, match="max_train=100000"):
        TrussDataModule(str(labelled_store.root), max_train=100000).setup("fit")


def test_max_chunks_keeps_each_split_as_it_was_on_the_first_chunks(labelled_store):
    full = TrussDataModule(str(labelled_store.root), batch_size=32)
    full.setup("fit")
    part = TrussDataModule(str(labelled_store.root), batch_size=32, max_chunks=2)
    part.setup("fit")
    chunk = labelled_store.index()[0]
    for s in ("train", "val", "test"):
        whole = full.datasets[s].tensors["index"]
        assert torch.equal(part.datasets[s].tensors["index"], whole[torch.as_tensor(chunk)[whole] < 2])  # cut
    assert 0 < len(part.datasets["test"]) < len(full.datasets["test"])
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="max_chunks"):
            TrussDataModule(str(labelled_store.root), max_chunks=bad)
    too_many = int(chunk.max()) + 2
    with pytest.raises(ValueError, match=f"max_chunks={too_many}"):
        TrussDataModule(str(labelled_store.root), max_chunks=too_many).setup("fit")


def test_physics_features_ride_along_in_batches(labelled_store):
    from trussvae.data.physics import ritz_features

    dm = TrussDataModule(str(labelled_store.root), batch_size=16, physics="ritz", physics_hops=1)
    dm.setup("fit")
    b = next(iter(dm.val_dataloader()))
    s = labelled_store.load_structures()
    rows = b["index"].numpy()
    expect = ritz_features(s["adjacency"][rows], s["offsets"][rows], hops=1)
    np.testing.assert_allclose(b["phys"].numpy(), expect, rtol=1e-6, atol=1e-12 * np.abs(expect).max())
    with pytest.raises(ValueError, match="physics"):
        TrussDataModule(str(labelled_store.root), physics="fe")
