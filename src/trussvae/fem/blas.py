"""Single-threaded BLAS/LAPACK for the small dense solves of the FE (the one helper for it).

Each FE system is small (a few hundred rows): multithreaded OpenBLAS only adds overhead there,
and oversubscribes the cores when structures run in parallel (``n_jobs > 1``; ~50x slower when
the cores are shared). :func:`single_threaded_blas` makes every OpenBLAS loaded in the process
(numpy's and scipy's bundled copies) single-threaded *for the calling thread* while the block
runs, so it is safe in worker threads (:func:`trussvae.fem.linear.homogenize_many`) and in worker
processes (:func:`trussvae.fem.nonlinear.compression_labels`) alike.
"""

from __future__ import annotations

import ctypes
import logging
from contextlib import contextmanager

__all__ = ["single_threaded_blas"]

log = logging.getLogger(__name__)

_SETTERS: list | None = None


def _openblas_paths() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux), after loading scipy's."""
    import scipy.linalg  # noqa: F401  (maps scipy's bundled OpenBLAS, used through its LAPACK)

    try:
        with open("/proc/self/maps") as fh:
            return sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln})
    except OSError:  # not Linux
        return []


def _thread_setters() -> list:
    """``openblas_set_num_threads_local`` of every loaded OpenBLAS (cached; empty if none)."""
    global _SETTERS
    if _SETTERS is None:
        setters = []
        for path in _openblas_paths():
            try:
                fn = ctypes.CDLL(path).openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
            setters.append(fn)
        if not setters:
            log.debug("no OpenBLAS with per-thread control found; using threadpoolctl if installed")
        _SETTERS = setters
    return _SETTERS


@contextmanager
def single_threaded_blas():
    """Run the BLAS/LAPACK calls of the calling thread single-threaded while the block runs."""
    setters = _thread_setters()  # cached: a few microseconds per call
    if not setters:  # no OpenBLAS found: threadpoolctl (if installed) knows the other BLAS libraries
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield
            return
        with threadpool_limits(1, user_api="blas"):
            yield
        return
    previous = [fn(1) for fn in setters]
    try:
        yield
    finally:
        for fn, n in zip(setters, previous):
            fn(max(int(n), 1))
