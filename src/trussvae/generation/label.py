"""FE labels for a lattice store: resumable and parallel, chunk by chunk.

``label_dataset(store, fe=LinearFESettings())`` writes ``labels/linear/chunk-XXXXXX.npz`` for
every structure chunk that has none yet, with (rows aligned with the structure chunk):

``orthotropic``  (n, 9) float64  C1111, C1122, C1133, C2222, C2233, C3333, C2323, C3131, C1212
``stiffness``    (n, 6, 6) float64 Voigt stiffness (conventions: :mod:`trussvae.fem.elasticity`)
``radius``       (n,) float64 uniform strut radius (unit-cell sides) giving the relative density
``ok``           (n,) bool; False where FE failed (NaN labels), the reason is in the chunk's JSON

The FE settings are recorded in ``meta.json`` under ``labels.linear``; resuming with other
settings is refused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from trussvae.io.store import LatticeStore, StoreError
from trussvae.parallel import run_tasks

log = logging.getLogger(__name__)

__all__ = ["LinearFESettings", "label_dataset", "label_chunk_linear"]

LINEAR_LABELS = "linear"


@dataclass(frozen=True)
class LinearFESettings:
    """FE settings of the linear labels (defaults: the paper's)."""

    relative_density: float = 0.15
    E_s: float = 1.0
    nu_s: float = 0.3
    beam: str = "timoshenko"

    def __post_init__(self):
        if not 0 < self.relative_density < 1:
            raise ValueError(f"relative_density must be in (0, 1), got {self.relative_density}")
        if self.beam not in ("timoshenko", "euler_bernoulli"):
            raise ValueError(f"beam must be 'timoshenko' or 'euler_bernoulli', got {self.beam!r}")


def label_chunk_linear(root: str, settings: dict, chunk_id: int) -> dict:
    """Homogenize every structure of one chunk and write its label file. Returns chunk stats."""
    from trussvae.fem import homogenize_many
    from trussvae.fem.elasticity import orthotropic_components
    from trussvae.generation.generator import arrays_to_graph

    fe = LinearFESettings(**settings)
    store = LatticeStore(root)
    data = store.read_structure_chunk(chunk_id)
    t0 = time.perf_counter()
    frames, reasons = [], []
    for adj, off in zip(data["adjacency"], data["offsets"]):
        try:
            frames.append(arrays_to_graph(adj, off).to_frame(relative_density=fe.relative_density))
            reasons.append(None)
        except ValueError as exc:  # malformed structure: record, carry on
            frames.append(None)
            reasons.append(f"{type(exc).__name__}: {exc}")
    good = [i for i, f in enumerate(frames) if f is not None]
    n = len(frames)
    stiffness = np.full((n, 6, 6), np.nan)
    radius = np.full(n, np.nan)
    C, why = homogenize_many([frames[i] for i in good], E_s=fe.E_s, nu_s=fe.nu_s, beam=fe.beam,
                             errors="nan", return_errors=True)
    for k, i in enumerate(good):
        stiffness[i] = C[k]
        reasons[i] = why[k]
        radius[i] = frames[i].radius
    ok = np.array([r is None for r in reasons])
    seconds = time.perf_counter() - t0
    stats = {"n": n, "n_failed": int((~ok).sum()), "seconds": round(seconds, 3),
             "failures": [{"row": i, "reason": r} for i, r in enumerate(reasons) if r is not None]}
    store.write_label_chunk(LINEAR_LABELS, chunk_id, stats, orthotropic=orthotropic_components(stiffness),
                            stiffness=stiffness, radius=radius, ok=ok)
    return stats


def label_dataset(store: LatticeStore | str, fe: LinearFESettings = LinearFESettings(), scheduler: str = "local",
                  n_workers: int | None = None, progress: bool = True) -> LatticeStore:
    """Add linear FE labels to every chunk of ``store`` that lacks them (resumable)."""
    store = store if isinstance(store, LatticeStore) else LatticeStore(store)
    from trussvae import __version__

    settings = asdict(fe)
    recorded = store.meta.get("labels", {}).get(LINEAR_LABELS)
    wanted = {"fe": settings, "package_version": __version__, "element": "exact 3D frame, one element per strut"}
    if recorded is not None and recorded.get("fe") != settings:
        raise StoreError(f"{store.root}: linear labels were computed with {recorded.get('fe')}, requested "
                         f"{settings}; use a new data set directory or the same FE settings")
    if recorded is None:
        store.update_meta(labels={**store.meta.get("labels", {}), LINEAR_LABELS: wanted})
    chunks = sorted(set(np.unique(store.index()[0]).tolist()))
    todo = [c for c in chunks if c not in set(store.label_chunks(LINEAR_LABELS))]
    if todo:
        log.info("FE-labelling %d chunk(s) (%d already done)", len(todo), len(chunks) - len(todo))
        run_tasks(partial(label_chunk_linear, str(store.root), settings), todo, scheduler=scheduler,
                  n_workers=n_workers, desc="FE labels", progress=progress)
    n_failed = sum(store.chunk_stats(c, LINEAR_LABELS)["n_failed"] for c in chunks)
    store.update_meta(labels={**store.meta.get("labels", {}),
                              LINEAR_LABELS: {**wanted, "n_failed": int(n_failed)}})
    return store
