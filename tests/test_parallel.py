"""The task runner: serial, and a real Dask LocalCluster with 2 workers."""

import numpy as np
import pytest

from trussvae.generation import build_dataset
from trussvae.generation.label import label_dataset
from trussvae.parallel import TaskFailures, run_tasks


def _square(x):
    if x == 3:
        raise ValueError("three is bad")
    return x * x


def test_sync_runner_collects_errors_and_keeps_results():
    with pytest.raises(TaskFailures, match="item 3: ValueError: three is bad") as info:
        run_tasks(_square, range(5), scheduler="sync", progress=False)
    assert info.value.report.results == {0: 0, 1: 1, 2: 4, 4: 16}


def test_local_cluster_two_workers_builds_and_labels_same_data_as_serial(tmp_path):
    a = build_dataset(tmp_path / "a", 200, seed=2, chunk_size=50, scheduler="sync", progress=False)
    b = build_dataset(tmp_path / "b", 200, seed=2, chunk_size=50, scheduler="local", n_workers=2, progress=False)
    np.testing.assert_array_equal(a.load_structures()["hashes"], b.load_structures()["hashes"])
    np.testing.assert_array_equal(a.load_structures()["offsets"], b.load_structures()["offsets"])
    label_dataset(a, scheduler="sync", progress=False)
    label_dataset(b, scheduler="local", n_workers=2, progress=False)
    np.testing.assert_allclose(b.load_labels("linear")["stiffness"], a.load_labels("linear")["stiffness"],
                               rtol=1e-12, atol=1e-15)
