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


def test_shutdown_filter_drops_only_the_benign_comm_closed_record_while_closing():
    """The one record of Dask's shutdown race (a CommClosedError, with its traceback) is dropped while
    a cluster closes, and only then; any other error passes."""
    import logging

    from distributed.comm.core import CommClosedError

    from trussvae import parallel

    closing = {"now": False}
    flt = parallel._ShutdownNoise(lambda: closing["now"])

    def record(exc, name="distributed.worker", msg="Failed to communicate with scheduler during heartbeat."):
        try:
            raise exc
        except Exception:  # noqa: BLE001
            import sys

            return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, sys.exc_info())

    race = record(CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>: Stream is closed"))
    real = record(ValueError("a real failure"), msg="Compute Failed")
    killed = logging.LogRecord("distributed.nanny", logging.WARNING, __file__, 1,
                               "Worker process still alive after 4.0 seconds, killing", None, None)
    assert flt.filter(race) and flt.filter(real) and flt.filter(killed)  # while running: everything shows
    closing["now"] = True
    assert not flt.filter(race) and not flt.filter(killed)
    assert flt.filter(real)  # real errors are kept at shutdown too


def test_worker_counts_as_closing_once_its_local_cluster_is_being_closed(monkeypatch):
    """The scheduler of a local cluster may go away while a worker is still ``running``; its heartbeat then
    fails with a closed stream. ``_run_dask`` marks its own workers as closing first (``client.run``), so
    the worker's filter drops that record; a running worker of a cluster that is not closing shows it."""
    import logging
    import sys
    from types import SimpleNamespace

    from distributed.core import Status
    from tornado.iostream import StreamClosedError

    from trussvae import parallel

    monkeypatch.setitem(parallel._WORKER_STATE, "closing", False)
    worker = SimpleNamespace(status=Status.running)
    flt = parallel._ShutdownNoise(lambda: parallel._worker_closing(worker))
    try:
        raise StreamClosedError()
    except StreamClosedError:
        heartbeat = logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1,
                                      "Failed to communicate with scheduler during heartbeat.", None, sys.exc_info())
    assert not parallel._worker_closing(worker) and flt.filter(heartbeat)
    parallel._mark_worker_closing()
    assert parallel._worker_closing(worker) and not flt.filter(heartbeat)
    monkeypatch.setitem(parallel._WORKER_STATE, "closing", False)
    worker.status = Status.closing
    assert parallel._worker_closing(worker) and not flt.filter(heartbeat)
