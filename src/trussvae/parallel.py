"""Run independent chunk tasks serially, on a local Dask cluster, or on an existing cluster.

``scheduler``:
- ``"sync"``: in this process (debugging, tests, tiny jobs);
- ``"local"``: a Dask ``LocalCluster`` of ``n_workers`` single-threaded worker processes
  (default: all cores);
- any other string: the address of a running Dask scheduler (``tcp://host:8786``), e.g. one
  started by ``dask scheduler`` + ``dask worker`` or by dask-jobqueue on SLURM (docs/scaling.md).

Tasks write their own results (atomically) and return small summaries; a failing task does not
stop the others: its error is collected and reported at the end.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

__all__ = ["run_tasks", "TaskReport", "TaskFailures"]


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
    if report.errors and raise_errors:
        raise TaskFailures(report)
    return report


def _run_dask(fn, items, scheduler, n_workers, report, bar) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    if scheduler == "local":
        n = n_workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    log.info("dask: %s", client)
    try:
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
        client.close()
        if cluster is not None:
            cluster.close()
