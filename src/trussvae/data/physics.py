"""Physics features of design-space structures: the k-hop Rayleigh-Ritz stiffness estimate.

``model.physics=ritz`` gives the network, next to the octant adjacency and offsets, the 9 orthotropic
components of :func:`trussvae.fem.ritz.ritz_stiffness_many` computed on the full mirrored periodic
frame (no learning; 2 hops reach R^2 0.97-1.00 against the FE, ``benchmarks/bench_ritz.py``). The
features are equivariant under the 48 design-space symmetries exactly like the linear labels
(axis permutations permute them, octant mirrors leave them unchanged), so augmentation and test-time
averaging transform them with the label gather tables instead of recomputing them.

- :func:`ritz_features` computes them for arrays of structures (the store layout);
- :func:`load_or_compute_ritz` caches them beside a data set, ``<store>/features/ritz_h<hops>.npz``,
  with the settings they were computed with (recomputed when the settings or rows differ).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from trussvae.design_space.truss_graph import TrussGraphError, arrays_to_graph
from trussvae.fem.elasticity import (
    DEFAULT_BEAM,
    DEFAULT_E_S,
    DEFAULT_NU_S,
    DEFAULT_RELATIVE_DENSITY,
    orthotropic_components,
)
from trussvae.fem.ritz import DEFAULT_HOPS, ritz_stiffness_many

__all__ = ["PHYSICS_KINDS", "ritz_features", "load_or_compute_ritz", "physics_fe_settings", "complete_fe",
           "feature_path"]

log = logging.getLogger(__name__)

#: values of ``model.physics``
PHYSICS_KINDS = ("none", "ritz")
#: the FE settings the features depend on (a subset of a label set's ``fe`` record in meta.json)
_FE_KEYS = ("E_s", "nu_s", "beam", "relative_density")


def physics_fe_settings(meta: dict | None = None) -> dict:
    """E_s, nu_s, beam and relative density of a data set's labels (its meta.json: the linear labels',
    else the nonlinear labels'), else the package defaults: the features are computed with the settings
    of the labels they stand beside."""
    labels = (meta or {}).get("labels", {}) or {}
    return complete_fe(next(((labels.get(kind) or {}).get("fe") for kind in ("linear", "nonlinear")
                             if (labels.get(kind) or {}).get("fe")), None))


def complete_fe(fe: dict | None = None) -> dict:
    """The four settings the features depend on: those of ``fe`` (other keys ignored) over the package
    defaults, as plain floats and a string."""
    out = {"E_s": DEFAULT_E_S, "nu_s": DEFAULT_NU_S, "beam": DEFAULT_BEAM, "relative_density": DEFAULT_RELATIVE_DENSITY}
    out.update({k: fe[k] for k in _FE_KEYS if k in (fe or {})})
    return {"E_s": float(out["E_s"]), "nu_s": float(out["nu_s"]), "beam": str(out["beam"]),
            "relative_density": float(out["relative_density"])}


def ritz_features(adjacency, offsets, hops: int = DEFAULT_HOPS, fe: dict | None = None,
                  chunk: int = 4096) -> np.ndarray:
    """(n, 351) adjacency vectors and (n, 27) offsets -> (n, 9) orthotropic components of the k-hop
    Rayleigh-Ritz stiffness (units of E_s). Structures that are not a frame (no strut, a node outside
    its bounds, e.g. a poor decode) get NaN; callers decide what a missing feature means."""
    fe = complete_fe(fe)
    adjacency = np.asarray(adjacency)
    offsets = np.asarray(offsets, dtype=np.float64)
    if adjacency.ndim != 2 or offsets.ndim != 2 or len(adjacency) != len(offsets):
        raise ValueError(f"ritz_features needs (n, 351) adjacency and (n, 27) offsets, got {adjacency.shape} "
                         f"and {offsets.shape}")
    out = np.full((len(adjacency), 9), np.nan)
    material = {"E_s": fe["E_s"], "nu_s": fe["nu_s"], "beam": fe["beam"]}
    for start in range(0, len(adjacency), chunk):
        rows, frames = [], []
        for i in range(start, min(start + chunk, len(adjacency))):
            try:
                frames.append(arrays_to_graph(adjacency[i] > 0.5, offsets[i]).to_frame(fe["relative_density"]))
            except TrussGraphError:
                continue
            rows.append(i)
        if frames:
            out[rows] = orthotropic_components(ritz_stiffness_many(frames, hops, **material))
    return out


def feature_path(data_dir: str | Path, hops: int) -> Path:
    """Where :func:`load_or_compute_ritz` caches the features of a store."""
    return Path(data_dir) / "features" / f"ritz_h{int(hops)}.npz"


def load_or_compute_ritz(data_dir: str | Path, adjacency, offsets, hops: int = DEFAULT_HOPS,
                         fe: dict | None = None) -> np.ndarray:
    """The (n, 9) Ritz features of a store's structures, from the cache when it was made with the same
    hops, FE settings and rows (checked by a checksum of the inputs), else computed and cached."""
    fe = complete_fe(fe)
    adjacency = np.ascontiguousarray(np.asarray(adjacency, dtype=np.uint8))
    offsets = np.ascontiguousarray(np.asarray(offsets, dtype=np.float32))
    record = {"kind": "ritz", "hops": int(hops), "fe": fe, "n": int(len(adjacency)),
              "inputs_checksum": _checksum(adjacency, offsets)}
    path = feature_path(data_dir, hops)
    if path.is_file():
        with np.load(path) as z:
            if json.loads(str(z["record"])) == record:
                return np.asarray(z["features"], dtype=np.float64)
        log.info("%s was made from other settings or rows: recomputing", path)
    log.info("computing %d-hop Ritz features of %d structures (cached in %s)", hops, len(adjacency), path)
    feats = ritz_features(adjacency, offsets, hops, fe)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, features=feats, record=json.dumps(record, sort_keys=True))
        tmp.replace(path)
    except OSError as exc:  # a read-only data set: use the features, recompute them next time
        log.warning("could not cache the Ritz features in %s (%s); they will be recomputed next time", path, exc)
    return feats


def _checksum(adjacency: np.ndarray, offsets: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(adjacency.tobytes())
    h.update(offsets.tobytes())
    return h.hexdigest()
