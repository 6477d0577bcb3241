"""FE labels for a lattice store: resumable and parallel, chunk by chunk.

``label_dataset(store, fe)`` writes ``labels/<kind>/chunk-XXXXXX.npz`` for every structure chunk
that has none yet (rows aligned with the structure chunk). ``fe`` chooses the kind:

:class:`LinearFESettings` -> ``labels/linear``:

``orthotropic``  (n, 9) float64  C1111, C1122, C1133, C2222, C2233, C3333, C2323, C3131, C1212
``stiffness``    (n, 6, 6) float64 Voigt stiffness (conventions: :mod:`trussvae.fem.elasticity`)
``radius``       (n,) float64 uniform strut radius (unit-cell sides) giving the relative density
``ok``           (n,) bool; False where FE failed (NaN labels), the reason is in the chunk's JSON

:class:`NonlinearFESettings` -> ``labels/nonlinear``:

``stress``       (n, 13) float64 compressive nominal stress (units of E_s) at 0.5%, 2.5%, ..., 24.5%
                 compressive strain (NaN beyond the strain a failed run reached)
``max_strain``   (n,) float64 the largest label strain reached;  ``ok`` (n,) bool: converged to the
                 full strain (the reason of a failure, with the strain where it stopped, is in the JSON)

The FE settings are recorded in ``meta.json`` under ``labels.<kind>``; resuming with other
settings is refused. ``max_rows`` labels only the chunks holding the first ``max_rows``
structures of the data set (a subset, e.g. for the costly nonlinear labels).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from functools import partial

import numpy as np

from trussvae.design_space.truss_graph import arrays_to_graph
from trussvae.fem.elasticity import LABEL_STRAINS, orthotropic_components
from trussvae.fem.linear import homogenize_many
from trussvae.fem.settings import LINEAR, NONLINEAR, LinearFESettings, NonlinearFESettings
from trussvae.io.store import LatticeStore, StoreError
from trussvae.parallel import run_tasks

log = logging.getLogger(__name__)

__all__ = ["LinearFESettings", "NonlinearFESettings", "label_dataset", "label_chunk_linear",
           "label_chunk_nonlinear", "reached_strain"]

LINEAR_LABELS = LINEAR
NONLINEAR_LABELS = NONLINEAR


def _chunk_frames(root: str, chunk_id: int, relative_density: float):
    """``(store, frames, reasons, good)`` of a structure chunk: frames (None + reason where a
    structure cannot be built) and the indices of the good ones."""
    store = LatticeStore(root)
    data = store.read_structure_chunk(chunk_id)
    frames, reasons = [], []
    for adj, off in zip(data["adjacency"], data["offsets"]):
        try:
            frames.append(arrays_to_graph(adj, off).to_frame(relative_density=relative_density))
            reasons.append(None)
        except ValueError as exc:  # malformed structure: record, carry on
            frames.append(None)
            reasons.append(f"{type(exc).__name__}: {exc}")
    return store, frames, reasons, [i for i, f in enumerate(frames) if f is not None]


def _written(root: str, name: str, chunk_id: int) -> dict | None:
    """The stats of chunk ``chunk_id``'s ``name`` labels if they are on disk already, else None. A task can run
    twice for one chunk: Dask recomputes the tasks of a worker it lost (one paused or killed) even when they had
    finished and written their chunk; the second run then returns what the first wrote instead of repeating the
    FE work (the labels of a chunk are a deterministic function of its structures and the data set's settings,
    which ``label_dataset`` checks)."""
    store = LatticeStore(root)
    return store.chunk_stats(chunk_id, name) if chunk_id in store.label_chunks(name) else None


def _stats(reasons: list, ok: np.ndarray, seconds: float) -> dict:
    return {"n": len(reasons), "n_failed": int((~ok).sum()), "seconds": round(seconds, 3),
            "failures": [{"row": i, "reason": r} for i, r in enumerate(reasons) if r]}


def reached_strain(stress: np.ndarray) -> np.ndarray:
    """The ``max_strain`` label of nonlinear curves ``stress`` (n, 13): the largest label strain with a finite
    stress, NaN for a curve without any."""
    return np.array([np.nan if not np.isfinite(row).any() else LABEL_STRAINS[np.flatnonzero(np.isfinite(row))[-1]]
                     for row in np.atleast_2d(stress)])


def label_chunk_nonlinear(root: str, settings: dict, chunk_id: int) -> dict:
    """Compression curves of every structure of one chunk; writes ``labels/nonlinear`` (its JSON records the
    solver revision, ``fem.nonlinear.SOLVER_REVISION``)."""
    from trussvae.fem.nonlinear import SOLVER_REVISION

    if (stats := _written(root, NONLINEAR_LABELS, chunk_id)) is not None:
        return stats
    fe = NonlinearFESettings(**settings)
    t0 = time.perf_counter()
    store, frames, reasons, good = _chunk_frames(root, chunk_id, fe.relative_density)
    n = len(frames)
    stress = np.full((n, len(LABEL_STRAINS)), np.nan)
    ok = np.zeros(n, bool)
    s, o, why = fe.evaluate([frames[i] for i in good])
    for k, i in enumerate(good):
        stress[i], ok[i], reasons[i] = s[k], o[k], (why[k] or None)
    reached = reached_strain(stress)
    stats = {**_stats(reasons, ok, time.perf_counter() - t0), "solver": SOLVER_REVISION}
    store.write_label_chunk(NONLINEAR_LABELS, chunk_id, stats, stress=stress, max_strain=reached, ok=ok)
    return stats


def label_chunk_linear(root: str, settings: dict, chunk_id: int) -> dict:
    """Homogenize every structure of one chunk and write its label file. Returns chunk stats."""
    if (stats := _written(root, LINEAR_LABELS, chunk_id)) is not None:
        return stats
    fe = LinearFESettings(**settings)
    t0 = time.perf_counter()
    store, frames, reasons, good = _chunk_frames(root, chunk_id, fe.relative_density)
    n = len(frames)
    stiffness = np.full((n, 6, 6), np.nan)
    radius = np.full(n, np.nan)
    C, why = homogenize_many([frames[i] for i in good], errors="nan", return_errors=True, **fe.material())
    for k, i in enumerate(good):
        stiffness[i] = C[k]
        reasons[i] = why[k]
        radius[i] = frames[i].radius
    ok = np.array([r is None for r in reasons])
    stats = _stats(reasons, ok, time.perf_counter() - t0)
    store.write_label_chunk(LINEAR_LABELS, chunk_id, stats, orthotropic=orthotropic_components(stiffness),
                            stiffness=stiffness, radius=radius, ok=ok)
    return stats


def label_dataset(store: LatticeStore | str, fe: LinearFESettings | NonlinearFESettings | None = None,
                  scheduler: str = "local", n_workers: int | None = None, progress: bool = True,
                  max_rows: int | None = None) -> LatticeStore:
    """Add FE labels (linear by default, nonlinear with :class:`NonlinearFESettings`) to every chunk
    of ``store`` that lacks them (resumable); only the chunks of the first ``max_rows`` structures
    if given."""
    from trussvae import __version__

    store = store if isinstance(store, LatticeStore) else LatticeStore(store)
    fe = fe or LinearFESettings()
    if isinstance(fe, NonlinearFESettings):
        name, task, element = NONLINEAR_LABELS, label_chunk_nonlinear, "corotational beams (docs/fem_nonlinear.md)"
    else:
        name, task, element = LINEAR_LABELS, label_chunk_linear, "exact 3D frame, one element per strut"
    settings = asdict(fe)
    recorded = store.meta.get("labels", {}).get(name)
    wanted = {"fe": settings, "package_version": __version__, "element": element}
    if recorded is not None and recorded.get("fe") != settings:
        raise StoreError(f"{store.root}: {name} labels were computed with {recorded.get('fe')}, requested "
                         f"{settings}; use a new data set directory or the same FE settings")
    if recorded is None:
        store.update_meta(labels={**store.meta.get("labels", {}), name: wanted})
    index_chunks = store.index()[0]
    if max_rows is not None:
        if int(max_rows) <= 0:
            raise ValueError(f"max_rows must be positive, got {max_rows}")
        index_chunks = index_chunks[: int(max_rows)]
    chunks = sorted(set(np.unique(index_chunks).tolist()))
    todo = [c for c in chunks if c not in set(store.label_chunks(name))]
    if todo:
        log.info("FE-labelling (%s) %d chunk(s) (%d already done)", name, len(todo), len(chunks) - len(todo))
        run_tasks(partial(task, str(store.root), settings), todo, scheduler=scheduler,
                  n_workers=n_workers, desc=f"FE labels ({name})", progress=progress)
    done = store.label_chunks(name)
    n_failed = sum(store.chunk_stats(c, name)["n_failed"] for c in done)
    store.update_meta(labels={**store.meta.get("labels", {}),
                              name: {**wanted, "n_failed": int(n_failed), "n_chunks_labelled": len(done)}})
    return store
