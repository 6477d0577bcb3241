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

Curve features (``model.curve_features=buckling``, nonlinear target): the linearised buckling analysis
of the labels' uniaxial compression along e3 (:func:`trussvae.fem.nonlinear.linear_buckling`, same cell,
imperfection and discretisation as the labels): the cell's initial Young's modulus ``E3_0`` and its
three smallest critical compressive strains (:data:`BUCKLING_NAMES`), ~10 ms a structure. They predict
where a compression curve leaves its linear branch, the part of a curve the Ritz estimate cannot give
(docs/model.md, "Nonlinear curves"). They are invariant under the 16 symmetry operations that keep e3
(the only ones used for the nonlinear target).

``model.curve_features=buckling2`` adds the second-order analysis of ``linear_buckling(second_order=True)``
(:data:`BUCKLING2_NAMES`, ~4x the cost): the first critical strain re-linearised half-way to it on the
solved load path (it sees the pre-buckling rotation of the struts), the pre-buckling tangent ratio there,
the first mode's share in the cell's F unknowns (sway or local) and the number of modes within 1.5x the
first critical strain.

``model.curve_features=redistribution`` adds to those 8 a load-redistribution estimate
(:func:`redistribution_features`, :data:`REDISTRIBUTION_NAMES`, ~2 ms a structure): from the cell's linear
response to the labels' compression (:func:`trussvae.fem.nonlinear.strut_compression_rates`), per label strain
the share of the axial strain energy in the struts already past their Euler strain (pinned and fixed ends), the
axial share of the cell's energy and the first strut's buckling strain: how much of the stiffness the buckled
struts give up as the strain grows, which the cell-level critical strains do not say (measured as a predictor
input: docs/model.md, "The VAE is not what limits the curves").

- :func:`buckling_features` computes them for arrays of structures;
- :func:`load_or_compute_buckling` caches them in ``<store>/features/<kind>.npz`` row by row: only the
  rows asked for are computed, rows computed before are reused (the nonlinear labels grow by chunks);
  processes filling one cache at the same time keep each other's rows (merged under a file lock at each
  write) and skip the rows the others have written.
"""

from __future__ import annotations

import fcntl
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
    LABEL_STRAINS,
    orthotropic_components,
)
from trussvae.fem.linear import MechanismError
from trussvae.fem.nonlinear import linear_buckling, strut_compression_rates
from trussvae.fem.ritz import DEFAULT_HOPS, ritz_stiffness_many
from trussvae.fem.settings import NonlinearFESettings
from trussvae.fem.strut_buckling import strut_buckling_curves
from trussvae.io.store import atomic_save_npz

__all__ = ["PHYSICS_KINDS", "ritz_features", "load_or_compute_ritz", "physics_fe_settings", "complete_fe",
           "feature_path", "CURVE_FEATURE_KINDS", "BUCKLING_NAMES", "BUCKLING_STRAIN_CAP", "buckling_fe_settings",
           "complete_buckling_fe", "buckling_features", "load_or_compute_buckling", "buckling_feature_path",
           "BUCKLING2_NAMES", "CURVE_FEATURE_NAMES", "REDISTRIBUTION_NAMES", "REDISTRIBUTION_KIND_NAMES",
           "redistribution_features", "POSTBUCKLING_NAMES", "postbuckling_features"]

log = logging.getLogger(__name__)

#: values of ``model.physics``
PHYSICS_KINDS = ("none", "ritz")
#: the FE settings the features depend on (a subset of a label set's ``fe`` record in meta.json)
_FE_KEYS = ("E_s", "nu_s", "beam", "relative_density")
#: values of ``model.curve_features``
CURVE_FEATURE_KINDS = ("none", "buckling", "buckling2", "redistribution", "postbuckling")
#: columns of :func:`buckling_features` (``kind="buckling"``)
BUCKLING_NAMES = ("E3_0", "eps_cr1", "eps_cr2", "eps_cr3")
#: columns of ``kind="buckling2"``: the above and the second-order analysis
#: (:class:`~trussvae.fem.nonlinear.BucklingResult`)
BUCKLING2_NAMES = BUCKLING_NAMES + ("eps_cr1_second_order", "tangent_ratio", "sway_share", "close_modes")
#: the columns each curve-feature kind appends to the 9 Ritz components
CURVE_FEATURE_NAMES = {"none": (), "buckling": BUCKLING_NAMES, "buckling2": BUCKLING2_NAMES}
#: columns of :func:`redistribution_features`: per label strain the axial-energy share of the struts past their
#: Euler strain with pinned ends, the same with fixed ends, the axial share of the cell's energy, the first
#: strut's buckling strain (log)
REDISTRIBUTION_NAMES = (tuple(f"buckled_pinned_{k:02d}" for k in range(len(LABEL_STRAINS)))
                        + tuple(f"buckled_fixed_{k:02d}" for k in range(len(LABEL_STRAINS)))
                        + ("axial_share", "log_first_strut_strain"))
#: columns of ``kind="redistribution"``: the second-order buckling features and :func:`redistribution_features`
REDISTRIBUTION_KIND_NAMES = BUCKLING2_NAMES + REDISTRIBUTION_NAMES
CURVE_FEATURE_NAMES["redistribution"] = REDISTRIBUTION_KIND_NAMES
#: columns of :func:`postbuckling_features`: per label strain the secant modulus of the sequentially linear
#: buckled-strut curve over the linear cell's, pinned ends, then fixed ends
POSTBUCKLING_NAMES = (tuple(f"secant_pinned_{k:02d}" for k in range(len(LABEL_STRAINS)))
                      + tuple(f"secant_fixed_{k:02d}" for k in range(len(LABEL_STRAINS))))
#: version of a kind's computation, recorded in its cache (kinds not listed: their first version)
_FEATURE_VERSIONS = {"postbuckling": 2}  # 2: struts in a straight chain buckle as one column
#: columns of ``kind="postbuckling"``: those of ``"redistribution"`` and :func:`postbuckling_features`
CURVE_FEATURE_NAMES["postbuckling"] = REDISTRIBUTION_KIND_NAMES + POSTBUCKLING_NAMES
#: critical strains are stored at most this (a cell with fewer unstable modes has ``inf``)
BUCKLING_STRAIN_CAP = 10.0
#: the nonlinear label settings the buckling features depend on
_BUCKLING_KEYS = _FE_KEYS + ("confined", "imperfection", "seed")


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
    adjacency, offsets = _structure_arrays("ritz_features", adjacency, offsets)
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


def _structure_arrays(caller: str, adjacency, offsets) -> tuple[np.ndarray, np.ndarray]:
    adjacency = np.asarray(adjacency)
    offsets = np.asarray(offsets, dtype=np.float64)
    if adjacency.ndim != 2 or offsets.ndim != 2 or len(adjacency) != len(offsets):
        raise ValueError(f"{caller} needs (n, 351) adjacency and (n, 27) offsets, got {adjacency.shape} "
                         f"and {offsets.shape}")
    return adjacency, offsets


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
    _save_features(path, record, features=feats)
    return feats


def complete_buckling_fe(fe: dict | None = None) -> dict:
    """The settings the buckling features depend on: those of ``fe`` (a nonlinear label set's ``fe``
    record; other keys ignored) over :class:`~trussvae.fem.settings.NonlinearFESettings`' defaults."""
    out = NonlinearFESettings().as_dict()
    out.update({k: fe[k] for k in _BUCKLING_KEYS if k in (fe or {})})
    NonlinearFESettings(**out)  # a ValueError naming a bad setting, not silently missing features
    return {"E_s": float(out["E_s"]), "nu_s": float(out["nu_s"]), "beam": str(out["beam"]),
            "relative_density": float(out["relative_density"]), "confined": bool(out["confined"]),
            "imperfection": float(out["imperfection"]), "seed": int(out["seed"])}


def buckling_fe_settings(meta: dict | None = None) -> dict:
    """The buckling-feature settings of a data set: its nonlinear labels' (meta.json), else the defaults."""
    return complete_buckling_fe((((meta or {}).get("labels") or {}).get("nonlinear") or {}).get("fe"))


def _check_kind(kind: str) -> str:
    if kind not in CURVE_FEATURE_KINDS or kind == "none":
        raise ValueError(f"curve-feature kind must be one of {list(CURVE_FEATURE_KINDS[1:])}, got {kind!r}")
    return kind


def buckling_features(adjacency, offsets, fe: dict | None = None, kind: str = "buckling") -> np.ndarray:
    """(n, 351) adjacency vectors and (n, 27) offsets -> the (n, 4) ``E3_0, eps_cr1, eps_cr2, eps_cr3``
    (:data:`BUCKLING_NAMES`) of :func:`~trussvae.fem.nonlinear.linear_buckling` with the settings ``fe``
    (:func:`complete_buckling_fe`); ``kind="buckling2"``: (n, 8), :data:`BUCKLING2_NAMES` (the second-order
    analysis; where its load path fails, rare, the second-order strain falls back to ``eps_cr1`` and the
    tangent ratio is NaN); ``kind="redistribution"``: (n, 36), those 8 and the 28 of
    :func:`redistribution_features`; ``kind="postbuckling"``: (n, 62), those 36 and the 26 of
    :func:`postbuckling_features`. Strains are capped at :data:`BUCKLING_STRAIN_CAP`. Structures that are not a
    stable frame get NaN; callers decide what a missing feature means."""
    fe = complete_buckling_fe(fe)
    names = CURVE_FEATURE_NAMES[_check_kind(kind)]
    adjacency, offsets = _structure_arrays("buckling_features", adjacency, offsets)
    if kind == "redistribution":
        return np.hstack([buckling_features(adjacency, offsets, fe, "buckling2"),
                          redistribution_features(adjacency, offsets, fe)])
    if kind == "postbuckling":
        return np.hstack([buckling_features(adjacency, offsets, fe, "redistribution"),
                          postbuckling_features(adjacency, offsets, fe)])
    out = np.full((len(adjacency), len(names)), np.nan)
    kw = {k: fe[k] for k in ("E_s", "nu_s", "beam", "confined", "imperfection", "seed")}
    second = kind == "buckling2"
    for i in range(len(adjacency)):
        try:
            frame = arrays_to_graph(adjacency[i] > 0.5, offsets[i]).to_frame(fe["relative_density"])
            res = linear_buckling(frame, n_modes=len(BUCKLING_NAMES) - 1, second_order=second, **kw)
        except (TrussGraphError, MechanismError, ValueError, np.linalg.LinAlgError):
            continue
        out[i, 0] = res.initial_modulus
        out[i, 1:4] = np.minimum(res.strains, BUCKLING_STRAIN_CAP)
        if second:
            eps2 = res.strains[0] if np.isnan(res.second_order_strain) else res.second_order_strain
            out[i, 4:] = (min(eps2, BUCKLING_STRAIN_CAP), res.tangent_ratio, res.sway_share, res.close_modes)
    return out


def redistribution_features(adjacency, offsets, fe: dict | None = None) -> np.ndarray:
    """(n, 351) adjacency vectors and (n, 27) offsets -> (n, 28) load-redistribution estimate of the labels'
    compression along e3 (:data:`REDISTRIBUTION_NAMES`), from the cell's linear response
    (:func:`~trussvae.fem.nonlinear.strut_compression_rates`, the settings ``fe`` as for
    :func:`buckling_features`): strut s shortens by ``a_s`` per unit macroscopic strain and carries the axial
    energy ``E_s A_s L_s a_s^2``; it passes its Euler strain ``eps_E = pi^2 r^2 / (4 L^2)`` (pinned ends; x4
    fixed) at ``eps_E / a_s``. Per label strain ``eps_k``: the share of the axial energy in the compressed
    struts past it (a staged picture of the stiffness the buckled struts give up, which the cell-level
    critical strains do not give); then the axial energy over the cell's (``E3_0 V``: ~1 stretch-, ~0
    bending-dominated) and ``log`` of the smallest ``eps_E / a_s`` (0 without a compressed strut). ~2 ms a
    structure. A response along e3: invariant under the 16 symmetry operations that keep e3. Structures that
    are not a stable frame get NaN."""
    fe = complete_buckling_fe(fe)
    adjacency, offsets = _structure_arrays("redistribution_features", adjacency, offsets)
    n_k = len(LABEL_STRAINS)
    out = np.full((len(adjacency), len(REDISTRIBUTION_NAMES)), np.nan)
    kw = {k: fe[k] for k in ("E_s", "nu_s", "beam", "confined", "imperfection", "seed")}
    for i in range(len(adjacency)):
        try:
            frame = arrays_to_graph(adjacency[i] > 0.5, offsets[i]).to_frame(fe["relative_density"])
            rate, e0 = strut_compression_rates(frame, **kw)
        except (TrussGraphError, MechanismError, ValueError, np.linalg.LinAlgError):
            continue
        length, radius = frame.strut_lengths(), frame.radii()
        energy = fe["E_s"] * np.pi * radius**2 * length * rate**2
        total = energy.sum()
        if not (total > 0 and e0 > 0):
            continue
        eps_e = np.pi**2 * radius**2 / (4 * length**2)
        comp = rate > 0
        for j, factor in enumerate((1.0, 4.0)):
            past = comp[None, :] & (rate[None, :] * LABEL_STRAINS[:, None] > factor * eps_e[None, :])
            out[i, j * n_k:(j + 1) * n_k] = (past * energy[None, :]).sum(axis=1) / total
        out[i, -2] = total / (e0 * frame.cell_volume())
        out[i, -1] = np.log(np.min(eps_e[comp] / rate[comp])) if comp.any() else 0.0
    return out


def postbuckling_features(adjacency, offsets, fe: dict | None = None) -> np.ndarray:
    """(n, 351) adjacency vectors and (n, 27) offsets -> (n, 26) post-buckling estimate of the labels'
    compression along e3 (:data:`POSTBUCKLING_NAMES`): the sequentially linear curve of
    :func:`~trussvae.fem.strut_buckling.strut_buckling_curves` (the struts buckle one by one at their Euler strain
    and keep their critical force, the load redistributes over the rest; the settings ``fe`` as for
    :func:`buckling_features`), as its secant modulus at each label strain over the linear cell's (1 before the
    first strut buckles), with pinned and with fixed ends. Where :func:`redistribution_features` stages the
    linear response, this follows the redistribution. ~3 ms a structure; a response along e3. Structures
    that are not a stable frame get NaN."""
    fe = complete_buckling_fe(fe)
    adjacency, offsets = _structure_arrays("postbuckling_features", adjacency, offsets)
    out = np.full((len(adjacency), len(POSTBUCKLING_NAMES)), np.nan)
    kw = {k: fe[k] for k in ("E_s", "nu_s", "beam", "confined")}
    for i in range(len(adjacency)):
        try:
            frame = arrays_to_graph(adjacency[i] > 0.5, offsets[i]).to_frame(fe["relative_density"])
            res = strut_buckling_curves(frame, LABEL_STRAINS, **kw)
        except (TrussGraphError, MechanismError, ValueError, np.linalg.LinAlgError):
            continue
        out[i] = (res.stress / (res.initial_modulus * LABEL_STRAINS[None, :])).ravel()
    return out


def buckling_feature_path(data_dir: str | Path, kind: str = "buckling") -> Path:
    """Where :func:`load_or_compute_buckling` caches the ``kind`` features of a store (for
    ``"redistribution"``: its own 28 columns, beside the ``buckling2`` cache; ``"postbuckling"``: its own 26)."""
    return Path(data_dir) / "features" / f"{_check_kind(kind)}.npz"


def load_or_compute_buckling(data_dir: str | Path, adjacency, offsets, fe: dict | None = None, rows=None,
                             log_every: int = 5000, kind: str = "buckling") -> np.ndarray:
    """The (n, 4) buckling features (``kind="buckling2"``: (n, 8), ``"redistribution"``: (n, 36),
    ``"postbuckling"``: (n, 62)) of a store's
    structures at ``rows`` (default: all; NaN elsewhere).

    Cached in :func:`buckling_feature_path` with the settings and a checksum of all inputs: rows computed
    before with the same settings and structures are reused, the others computed and added (the cache is
    written every ``log_every`` new rows, so an interrupted run keeps what it computed). ``"redistribution"``
    is the ``buckling2`` cache (computed where missing) and its own 28 columns, cached in
    ``features/redistribution.npz``; ``"postbuckling"`` is the ``"redistribution"`` caches and its own 26 columns in
    ``features/postbuckling.npz``."""
    if kind == "postbuckling":
        base = load_or_compute_buckling(data_dir, adjacency, offsets, fe, rows, log_every, "redistribution")
        own = _load_or_compute_rows(data_dir, adjacency, offsets, fe, rows, log_every, kind,
                                    POSTBUCKLING_NAMES, postbuckling_features)
        return np.hstack([base, own])
    if kind == "redistribution":
        b2 = load_or_compute_buckling(data_dir, adjacency, offsets, fe, rows, log_every, "buckling2")
        own = _load_or_compute_rows(data_dir, adjacency, offsets, fe, rows, log_every, kind,
                                    REDISTRIBUTION_NAMES, redistribution_features)
        return np.hstack([b2, own])
    return _load_or_compute_rows(data_dir, adjacency, offsets, fe, rows, log_every, _check_kind(kind),
                                 CURVE_FEATURE_NAMES[kind],
                                 lambda a, o, f: buckling_features(a, o, f, kind))


def _load_or_compute_rows(data_dir, adjacency, offsets, fe, rows, log_every, kind, names, compute) -> np.ndarray:
    """The cache of :func:`load_or_compute_buckling`: the ``names`` columns of ``compute(adjacency, offsets,
    fe)``, in :func:`buckling_feature_path` ``(data_dir, kind)``."""
    fe = complete_buckling_fe(fe)
    adjacency = np.ascontiguousarray(np.asarray(adjacency, dtype=np.uint8))
    offsets = np.ascontiguousarray(np.asarray(offsets, dtype=np.float32))
    n = len(adjacency)
    rows = np.arange(n) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    if len(rows) and (rows[0] < 0 or rows[-1] >= n):
        raise ValueError(f"rows must index the {n} structures, got {rows[0]}..{rows[-1]}")
    record = {"kind": kind, "fe": fe, "n": int(n), "inputs_checksum": _checksum(adjacency, offsets)}
    if kind in _FEATURE_VERSIONS:  # a cache made by an earlier version of the computation is not reused
        record["version"] = _FEATURE_VERSIONS[kind]
    path = buckling_feature_path(data_dir, kind)
    feats, done = np.full((n, len(names)), np.nan), np.zeros(n, bool)
    if path.is_file():
        with np.load(path) as z:
            if json.loads(str(z["record"])) == record:
                feats, done = np.array(z["features"], dtype=np.float64), np.array(z["done"], dtype=bool)
            else:
                log.info("%s was made from other settings or rows: recomputing", path)
    todo = rows[~done[rows]]
    if len(todo):
        log.info("computing the %s features of %d structures (%d cached, in %s)", kind, len(todo),
                 len(rows) - len(todo), path)
    writable = True
    step = max(1, int(log_every))
    for start in range(0, len(todo), step):
        part = todo[start:start + step]
        part = part[~done[part]]  # rows another process cached meanwhile (merged at the last save)
        if not len(part):
            continue
        feats[part] = compute(adjacency[part], offsets[part], fe)
        done[part] = True
        if writable:
            writable = _save_rows(path, record, feats, done)
        if len(todo) > step:
            log.info("%s features: %d / %d", kind, min(start + step, len(todo)), len(todo))
    out = np.full_like(feats, np.nan)
    out[rows] = feats[rows]
    return out


def _save_rows(path: Path, record: dict, feats: np.ndarray, done: np.ndarray) -> bool:
    """Write a row cache, first merging (in place) the rows another process wrote to ``path`` since it
    was read: read, merge and replace happen under an exclusive lock on ``<path>.lock``, so processes
    filling the same cache concurrently (a precomputation next to a training run) keep each other's rows."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if path.is_file():
                    with np.load(path) as z:
                        if json.loads(str(z["record"])) == record:
                            theirs = np.asarray(z["done"], dtype=bool) & ~done
                            feats[theirs] = z["features"][theirs]
                            done |= theirs
                return _save_features(path, record, features=feats, done=done)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError as exc:
        log.warning("could not cache features in %s (%s); they will be recomputed next time", path, exc)
        return False


def _save_features(path: Path, record: dict, **arrays) -> bool:
    try:
        atomic_save_npz(path, record=json.dumps(record, sort_keys=True), **arrays)
        return True
    except OSError as exc:  # a read-only data set: use the features, recompute them next time
        log.warning("could not cache features in %s (%s); they will be recomputed next time", path, exc)
        return False


def _checksum(adjacency: np.ndarray, offsets: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(adjacency.tobytes())
    h.update(offsets.tobytes())
    return h.hexdigest()
