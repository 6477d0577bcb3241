"""Run independent chunk tasks serially, on a local Dask cluster, or on an existing cluster.

``scheduler``:
- ``"sync"``: in this process (debugging, tests, tiny jobs);
- ``"local"``: a Dask ``LocalCluster`` of ``n_workers`` single-threaded worker processes
  (default: all cores);
- any other string: the address of a running Dask scheduler (``tcp://host:8786``), e.g. one
  started by ``dask scheduler`` + ``dask worker`` or by dask-jobqueue on SLURM (docs/scaling.md).

Tasks write their own results (atomically) and return small summaries; a failing task does not
stop the others: its error is collected and reported at the end.

The console stays quiet: a progress bar and one summary line per call. Dask's own log records
(``distributed.*``) are shown from WARNING up unless :func:`set_verbose` is on (the entry scripts'
``verbose=true``). The closing of a cluster is ordered (client first, then the cluster) and the
one benign record of its shutdown race, a ``CommClosedError`` of a worker or comm that is already
closing (with its traceback), is dropped then and only then; every other error is kept.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

__all__ = ["run_tasks", "TaskReport", "TaskFailures", "set_verbose", "is_verbose"]

_SETTINGS = {"verbose": False}
#: the loggers whose records of a closing cluster may carry the benign CommClosedError
_SHUTDOWN_LOGGERS = ("distributed", "distributed.client", "distributed.core", "distributed.batched",
                     "distributed.comm.tcp", "distributed.nanny", "distributed.scheduler", "distributed.worker",
                     "distributed.deploy.spec", "tornado.application", "asyncio")


def set_verbose(verbose: bool) -> None:
    """Show Dask's own log records (``distributed.*``) from INFO up (``verbose``) or only warnings
    and errors (the default)."""
    _SETTINGS["verbose"] = bool(verbose)
    _apply_dask_log_level()


def is_verbose() -> bool:
    return _SETTINGS["verbose"]


def _apply_dask_log_level() -> None:
    # importing distributed sets its logger to INFO: call after the import too
    logging.getLogger("distributed").setLevel(logging.INFO if _SETTINGS["verbose"] else logging.WARNING)


def _is_comm_closed(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is Dask's ``CommClosedError`` or a closed stream."""
    seen = 0
    while exc is not None and seen < 10:
        if type(exc).__name__ in ("CommClosedError", "StreamClosedError"):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class _ShutdownNoise(logging.Filter):
    """Drops, while ``closing()`` is true, the benign records of a cluster's shutdown race: a
    ``CommClosedError`` (a heartbeat or stream of a worker that is already going away) and the
    nanny's notice that it killed a worker process that did not exit in time. Other records pass."""

    def __init__(self, closing: Callable[[], bool]):
        super().__init__()
        self.closing = closing

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.closing():
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if _is_comm_closed(exc) or "CommClosedError" in record.getMessage():
            return False
        return not (record.name == "distributed.nanny" and "still alive after" in record.getMessage())


def _add_filter(flt: logging.Filter) -> Callable[[], None]:
    loggers = [logging.getLogger(n) for n in _SHUTDOWN_LOGGERS]
    for lg in loggers:
        lg.addFilter(flt)
    return lambda: [lg.removeFilter(flt) for lg in loggers]


#: set in a worker process of a local cluster that is about to be closed (``_mark_worker_closing``)
_WORKER_STATE = {"closing": False}


def _mark_worker_closing() -> None:
    """Run on every worker of a local cluster (``client.run``) just before the cluster is closed: the
    scheduler may go away while the worker is still ``running``, and its next heartbeat then fails with
    a closed stream (the record "Failed to communicate with scheduler during heartbeat" + traceback)."""
    _WORKER_STATE["closing"] = True


def _worker_closing(worker) -> bool:
    """Whether ``worker`` is shutting down: its own status says so, or its cluster is being closed."""
    from distributed.core import Status

    return _WORKER_STATE["closing"] or worker.status not in (Status.running, Status.paused)


def _quiet_worker_shutdown_plugin():
    """A worker plugin that drops the worker's CommClosedError records once the worker is closing."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietWorkerShutdown(WorkerPlugin):
        name = "trussvae-quiet-shutdown"

        def setup(self, worker):
            from trussvae import parallel

            self._remove = _add_filter(_ShutdownNoise(lambda: parallel._worker_closing(worker)))

        def teardown(self, worker):
            getattr(self, "_remove", lambda: None)()

    return QuietWorkerShutdown()


class TaskFailures(RuntimeError):
    """Some tasks failed; ``report`` holds the results of the others and every error."""

    def __init__(self, report: TaskReport):
        self.report = report
        first = next(iter(report.errors.items()))
        super().__init__(f"{len(report.errors)} of {report.n_tasks} task(s) failed; first: item {first[0]}: {first[1]}")


@dataclass
class TaskReport:
    results: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    n_tasks: int = 0


#: failed tasks whose error is logged one by one (all are in ``TaskReport.errors``)
_N_ERRORS_SHOWN = 5


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="chunk", disable=not enabled, dynamic_ncols=True)


def run_tasks(fn: Callable, items: Iterable, scheduler: str = "local", n_workers: int | None = None,
              desc: str = "", progress: bool = True, raise_errors: bool = True) -> TaskReport:
    """Apply ``fn`` to every item; returns a :class:`TaskReport` (results keyed by item)."""
    items = list(items)
    report = TaskReport(n_tasks=len(items))
    if not items:
        return report
    t0 = time.perf_counter()
    bar = _progress(len(items), desc, progress)
    try:
        if scheduler == "sync":
            for item in items:
                try:
                    report.results[item] = fn(item)
                except Exception as exc:  # noqa: BLE001 - reported below
                    report.errors[item] = f"{type(exc).__name__}: {exc}"
                bar.update()
        else:
            _run_dask(fn, items, scheduler, n_workers, report, bar)
    finally:
        bar.close()
    where = "in this process" if scheduler == "sync" else ("on a local Dask cluster" if scheduler == "local"
                                                          else f"on {scheduler}")
    log.info("%s: %d of %d task(s) done %s in %.1f s%s", desc or getattr(fn, "__name__", "tasks"),
             len(report.results), len(items), where, time.perf_counter() - t0,
             f"; {len(report.errors)} failed" if report.errors else "")
    for item, err in list(report.errors.items())[:_N_ERRORS_SHOWN]:
        log.error("task %s failed: %s", item, err)
    if len(report.errors) > _N_ERRORS_SHOWN:
        log.error("... and %d more failed task(s)", len(report.errors) - _N_ERRORS_SHOWN)
    if report.errors and raise_errors:
        raise TaskFailures(report)
    return report


def _run_dask(fn, items, scheduler, n_workers, report, bar) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    _apply_dask_log_level()
    state = {"closing": False}
    remove_filter = _add_filter(_ShutdownNoise(lambda: state["closing"]))
    cluster = client = None
    try:
        if scheduler == "local":
            n = n_workers or os.cpu_count() or 1
            level = logging.INFO if _SETTINGS["verbose"] else logging.WARNING
            # the scheduler's HTTP endpoints on a free port (the default 8787 warns when taken)
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=level)
            client = Client(cluster)
        else:
            client = Client(scheduler)
        client.register_plugin(_quiet_worker_shutdown_plugin())
        log.log(logging.INFO if _SETTINGS["verbose"] else logging.DEBUG, "dask: %s", client)
        futures = {client.submit(fn, item, pure=False, key=f"{getattr(fn, '__name__', 'task')}-{item}"): item
                   for item in items}
        for fut in as_completed(futures):
            item = futures[fut]
            try:
                report.results[item] = fut.result()
            except Exception as exc:  # noqa: BLE001
                report.errors[item] = f"{type(exc).__name__}: {exc}"
            bar.update()
    finally:
        state["closing"] = True  # from here on, a CommClosedError is the shutdown race
        try:
            if client is not None and cluster is not None:
                # our own cluster: its workers too treat a lost scheduler as the shutdown race from here on
                # (an external cluster's workers live on, and their heartbeat failures stay visible)
                try:
                    client.run(_mark_worker_closing)
                except Exception:  # noqa: BLE001  (a worker that is already gone needs no mark)
                    pass
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        finally:
            remove_filter()
