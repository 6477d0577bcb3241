"""The general periodic beam lattice: :class:`PeriodicFrame`.

This is the FE input for any lattice (design-space or user-supplied, cubic or not).

Layout (all arrays validated on construction):

``lattice_vectors``  (3, 3) float64, rows a1, a2, a3 in Cartesian coordinates (right-handed,
                     non-degenerate). Units are arbitrary; stiffness does not depend on scale
                     at fixed relative density.
``nodes``            (N, 3) float64, fractional coordinates in [0, 1) (nodes outside are wrapped
                     into the cell on construction and the shifts of their struts adjusted, so
                     the geometry is unchanged); Cartesian position = ``nodes @ lattice_vectors``.
``struts``           (E, 2) int64 node indices (i, j).
``shifts``           (E, 3) int64 periodic cell shifts: strut e runs from node i in the home cell
                     to node j in the cell translated by ``shifts[e]``, i.e. its Cartesian end
                     is ``(nodes[j] + shifts[e]) @ lattice_vectors``.
``radius``           float or (E,) float64 strut radii (circular cross-section), same length
                     unit as the lattice vectors.

Relative density convention: ``rho = sum_e pi r_e^2 L_e / V_cell`` (node overlaps ignored),
see :mod:`trussvae.fem.elasticity` for the elasticity conventions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trussvae.fem.topology import PeriodicConnectivity, periodic_rank_and_components
from trussvae.jsonio import dump_json, load_json_object

__all__ = ["PeriodicFrame", "FrameError", "merge_collinear", "uniform_radius"]

#: struts shorter than this (relative to the cube root of the cell volume) are "zero-length"
MIN_RELATIVE_LENGTH = 1e-9
#: decimals used to compare fractional coordinates in canonical keys
_KEY_DECIMALS = 6


class FrameError(ValueError):
    """A periodic frame is malformed (wrong shapes, NaN, degenerate cell, bad strut)."""


def uniform_radius(relative_density: float, total_length: float, cell_volume: float = 1.0) -> float:
    """The uniform strut radius giving ``relative_density`` (the convention of the module doc:
    ``rho = pi r^2 sum(L) / V``) for struts of total length ``total_length`` in a cell of volume
    ``cell_volume``. The one place this formula lives (frames and design-space graphs use it)."""
    rho = float(relative_density)
    if not (np.isfinite(rho) and 0 < rho < 1):
        raise FrameError(f"relative_density must be in (0, 1), got {relative_density}")
    if not total_length > 0:
        raise FrameError(f"total strut length must be positive, got {total_length}")
    return float(np.sqrt(rho * cell_volume / (np.pi * total_length)))


def _as_array(name: str, value, dtype, ndim: int, last: int | None = None) -> np.ndarray:
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise FrameError(f"{name}: cannot convert to {np.dtype(dtype).name} array ({exc})") from exc
    if arr.ndim != ndim or (last is not None and arr.shape[-1] != last):
        want = f"(n, {last})" if ndim == 2 else f"({last},)"
        raise FrameError(f"{name}: expected shape {want}, got {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False, init=False)
class PeriodicFrame:
    """A periodic beam lattice (unit cell + struts with periodic shifts).

    Parameters
    ----------
    lattice_vectors : (3, 3) array_like, rows a1, a2, a3 (Cartesian).
    nodes : (N, 3) array_like, fractional coordinates (wrapped into [0, 1), struts kept in place).
    struts : (E, 2) array_like of int, node indices.
    shifts : (E, 3) array_like of int, cell shift of the second end; ``None`` means all zero.
    radius : float or (E,) array_like, strut radius (> 0).

    Raises
    ------
    FrameError
        On wrong shapes, non-finite values, a degenerate or left-handed cell, node indices out
        of range, zero-length struts, or non-positive radii. The message names the problem.
    """

    lattice_vectors: np.ndarray
    nodes: np.ndarray
    struts: np.ndarray
    shifts: np.ndarray
    radius: float | np.ndarray

    def __init__(self, lattice_vectors, nodes, struts, shifts=None, radius=0.01):
        lv = _as_array("lattice_vectors", lattice_vectors, np.float64, 2, 3)
        if lv.shape != (3, 3):
            raise FrameError(f"lattice_vectors: expected shape (3, 3), got {lv.shape}")
        nodes = _as_array("nodes", nodes, np.float64, 2, 3) if len(np.shape(nodes)) else None
        if nodes is None:
            raise FrameError("nodes: expected shape (n, 3), got a scalar")
        struts = np.asarray(struts)
        if struts.size == 0:
            raise FrameError("struts: a frame needs at least one strut")
        struts = _as_array("struts", struts, np.float64, 2, 2)
        shifts = np.zeros((len(struts), 3)) if shifts is None else _as_array("shifts", shifts, np.float64, 2, 3)
        for name, arr in (("lattice_vectors", lv), ("nodes", nodes), ("struts", struts), ("shifts", shifts)):
            if not np.all(np.isfinite(arr)):
                bad = np.argwhere(~np.isfinite(arr))[0].tolist()
                raise FrameError(f"{name}: non-finite value (NaN or inf) at index {bad}")
        for name, arr in (("struts", struts), ("shifts", shifts)):
            if np.any(arr != np.round(arr)):
                raise FrameError(f"{name}: entries must be integers")
        struts, shifts = struts.astype(np.int64), shifts.astype(np.int64)
        if len(shifts) != len(struts):
            raise FrameError(f"shifts: {len(shifts)} rows for {len(struts)} struts")
        if struts.min() < 0 or struts.max() >= len(nodes):
            raise FrameError(f"struts: node index out of range [0, {len(nodes)})")
        volume = float(np.linalg.det(lv))
        if not volume > 1e-12 * max(1.0, float(np.abs(lv).max()) ** 3):
            raise FrameError(f"lattice_vectors: cell must be right-handed and non-degenerate (det = {volume:.3g})")
        radius = self._check_radius(radius, len(struts))
        nodes, shifts = _wrap_nodes(nodes, struts, shifts)
        object.__setattr__(self, "lattice_vectors", lv)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "struts", struts)
        object.__setattr__(self, "shifts", shifts)
        object.__setattr__(self, "radius", radius)
        self._check_duplicates()
        lengths = self.strut_lengths()
        tiny = np.flatnonzero(lengths <= MIN_RELATIVE_LENGTH * volume ** (1 / 3))
        if len(tiny):
            e = int(tiny[0])
            raise FrameError(f"struts: {len(tiny)} zero-length strut(s), first is #{e} "
                             f"({struts[e, 0]} -> {struts[e, 1]} shift {shifts[e].tolist()})")

    def _check_duplicates(self) -> None:
        # a strut (i, j, s) is the same as (j, i, -s); compare canonical rows
        i, j, s = self.struts[:, 0], self.struts[:, 1], self.shifts
        flip = (i > j) | ((i == j) & _lex_less(s, -s))
        rows = np.column_stack([np.where(flip, j, i), np.where(flip, i, j), np.where(flip[:, None], -s, s)])
        _, first, counts = np.unique(rows, axis=0, return_index=True, return_counts=True)
        if np.any(counts > 1):
            e = int(np.sort(first[counts > 1])[0])
            raise FrameError(f"struts: duplicate strut {self.struts[e].tolist()} shift {self.shifts[e].tolist()} "
                             f"({int((counts > 1).sum())} duplicated)")

    @classmethod
    def _trusted(cls, lattice_vectors, nodes, struts, shifts, radius) -> PeriodicFrame:
        """Construct without validation, for arrays already known to be well-formed (internal)."""
        frame = object.__new__(cls)
        for name, value in (("lattice_vectors", lattice_vectors), ("nodes", nodes), ("struts", struts),
                            ("shifts", shifts), ("radius", radius)):
            object.__setattr__(frame, name, value)
        return frame

    @staticmethod
    def _check_radius(radius, n_struts: int):
        r = np.asarray(radius, dtype=np.float64)
        if r.ndim == 0:
            if not (np.isfinite(r) and r > 0):
                raise FrameError(f"radius: must be a positive finite number, got {float(r)}")
            return float(r)
        if r.shape != (n_struts,):
            raise FrameError(f"radius: expected a float or shape ({n_struts},), got {r.shape}")
        if not np.all(np.isfinite(r) & (r > 0)):
            e = int(np.flatnonzero(~(np.isfinite(r) & (r > 0)))[0])
            raise FrameError(f"radius: strut #{e} has radius {r[e]} (must be positive and finite)")
        return r.copy()

    # ------------------------------------------------------------------ geometry
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_struts(self) -> int:
        return len(self.struts)

    def cell_volume(self) -> float:
        return float(np.linalg.det(self.lattice_vectors))

    def node_positions(self) -> np.ndarray:
        """(N, 3) Cartesian node positions in the home cell."""
        return self.nodes @ self.lattice_vectors

    def strut_vectors(self) -> np.ndarray:
        """(E, 3) Cartesian vectors from the first to the second end of each strut."""
        frac = self.nodes[self.struts[:, 1]] + self.shifts - self.nodes[self.struts[:, 0]]
        return frac @ self.lattice_vectors

    def strut_lengths(self) -> np.ndarray:
        return np.linalg.norm(self.strut_vectors(), axis=1)

    def radii(self) -> np.ndarray:
        """(E,) strut radii (a uniform radius broadcast to every strut)."""
        return np.broadcast_to(np.asarray(self.radius, dtype=np.float64), (self.n_struts,)).copy()

    def relative_density(self) -> float:
        """``sum pi r^2 L / V`` (node overlaps ignored)."""
        return float(np.sum(np.pi * self.radii() ** 2 * self.strut_lengths()) / self.cell_volume())

    def with_relative_density(self, relative_density: float) -> PeriodicFrame:
        """A copy whose radii are scaled (uniformly, keeping their ratios) to ``relative_density``."""
        rho = float(relative_density)
        if not (np.isfinite(rho) and 0 < rho < 1):
            raise FrameError(f"relative_density must be in (0, 1), got {relative_density}")
        if np.ndim(self.radius) == 0:
            radius = uniform_radius(rho, float(self.strut_lengths().sum()), self.cell_volume())
        else:
            radius = self.radii() * np.sqrt(rho / self.relative_density())
        return self.replace(radius=radius)

    def replace(self, **changes) -> PeriodicFrame:
        fields = dict(lattice_vectors=self.lattice_vectors, nodes=self.nodes, struts=self.struts,
                      shifts=self.shifts, radius=self.radius)
        fields.update(changes)
        return PeriodicFrame(**fields)

    def translated(self, frac_offset) -> PeriodicFrame:
        """The same lattice with every node moved by ``frac_offset`` (fractional; wrapped into the cell)."""
        return self.replace(nodes=self.nodes + np.asarray(frac_offset, dtype=np.float64))

    def node_degrees(self) -> np.ndarray:
        """(N,) number of strut ends at each node (a periodic self-strut counts twice)."""
        return np.bincount(self.struts.ravel(), minlength=self.n_nodes)

    # ------------------------------------------------------------------ topology
    def periodic_connectivity(self) -> PeriodicConnectivity:
        """``(n_components, rank, index)`` of the periodic tessellation.

        ``n_components``: connected components of the quotient graph. The periodic rank is the
        dimension (0..3) spanned by the cycle vectors of the
        largest component: 3 means load paths in all three directions. ``index``: number of
        interpenetrating copies its tessellation splits into (1 = one network). Isolated nodes
        (degree 0) are ignored. See :func:`trussvae.fem.topology.periodic_rank_and_components`.
        """
        return periodic_rank_and_components(self.n_nodes, self.struts, self.shifts)

    # ------------------------------------------------------------------ identity
    def canonical_key(self, translations=None, decimals: int = _KEY_DECIMALS) -> str:
        """A hex digest identifying the full periodic structure (geometry + radii ratios ignored).

        Independent of node order, strut order and direction, periodic image choice, and
        straight struts split by degree-2 collinear nodes. ``translations`` is an optional
        (T, 3) list of fractional origin shifts under which lattices count as identical
        (the minimum digest over them is returned); the cell itself is not reduced.
        """
        base = merge_collinear(self)
        offsets = np.zeros((1, 3)) if translations is None else np.asarray(translations, dtype=np.float64)
        keys = [_segment_key(base.translated(t), decimals) for t in offsets]
        return min(keys)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return {
            "format": "trussvae.PeriodicFrame",
            "version": 1,
            "lattice_vectors": self.lattice_vectors.tolist(),
            "nodes": self.nodes.tolist(),
            "struts": self.struts.tolist(),
            "shifts": self.shifts.tolist(),
            "radius": self.radius if np.ndim(self.radius) == 0 else np.asarray(self.radius).tolist(),
        }

    def to_json(self, path: str | Path | None = None, indent: int | None = None) -> str:
        """JSON text of :meth:`to_dict`, also written to ``path`` when given."""
        return dump_json(self.to_dict(), path, indent)

    @classmethod
    def from_dict(cls, data: dict) -> PeriodicFrame:
        if not isinstance(data, dict):
            raise FrameError(f"periodic frame: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("lattice_vectors", "nodes", "struts") if k not in data]
        if missing:
            raise FrameError(f"periodic frame: missing key(s) {missing}")
        return cls(data["lattice_vectors"], data["nodes"], data["struts"],
                   data.get("shifts"), data.get("radius", 0.01))

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> PeriodicFrame:
        """Parse JSON text, or read it from a path."""
        return cls.from_dict(load_json_object(text_or_path, FrameError, "periodic frame"))

    def __repr__(self) -> str:
        r = f"{self.radius:.4g}" if np.ndim(self.radius) == 0 else "per-strut"
        return f"PeriodicFrame(n_nodes={self.n_nodes}, n_struts={self.n_struts}, radius={r})"


def merge_collinear(frame: PeriodicFrame, tol: float = 1e-9) -> PeriodicFrame:
    """Remove nodes joining exactly two collinear, opposite struts of equal radius.

    A straight strut split by such a node is mechanically the same strut; removing the node
    gives one representation per physical structure (used by canonical keys). Returns a new
    frame (the input if nothing merges).
    """
    struts, shifts, radii = frame.struts.copy(), frame.shifts.copy(), frame.radii()
    alive = np.ones(len(struts), bool)
    pos = frame.nodes
    lv = frame.lattice_vectors
    changed = True
    while changed:
        changed = False
        deg = np.bincount(struts[alive].ravel(), minlength=frame.n_nodes)
        for k in np.flatnonzero(deg == 2):
            ends = [e for e in np.flatnonzero(alive & ((struts[:, 0] == k) | (struts[:, 1] == k)))]
            if len(ends) != 2 or radii[ends[0]] != radii[ends[1]]:
                continue
            far = []  # (node, shift of far node relative to k's cell)
            for e in ends:
                i, j = struts[e]
                far.append((j, shifts[e]) if i == k else (i, -shifts[e]))
            v0 = (pos[far[0][0]] + far[0][1] - pos[k]) @ lv
            v1 = (pos[far[1][0]] + far[1][1] - pos[k]) @ lv
            n0, n1 = np.linalg.norm(v0), np.linalg.norm(v1)
            if np.linalg.norm(np.cross(v0, v1)) > tol * n0 * n1 or v0 @ v1 >= 0:
                continue
            (a, sa), (b, sb) = far
            if a == b and np.array_equal(sa, sb):
                continue
            alive[ends[1]] = False
            struts[ends[0]] = (a, b)
            shifts[ends[0]] = sb - sa
            changed = True
            break
    if alive.all():
        return frame
    struts, shifts, radii = struts[alive], shifts[alive], radii[alive]
    used = np.unique(struts)
    remap = -np.ones(frame.n_nodes, np.int64)
    remap[used] = np.arange(len(used))
    radius = frame.radius if np.ndim(frame.radius) == 0 else radii
    return PeriodicFrame(lv, pos[used], remap[struts], shifts, radius)


def _wrap_nodes(nodes: np.ndarray, struts: np.ndarray, shifts: np.ndarray):
    """Wrap fractional coordinates into [0, 1), adjusting strut shifts so no strut moves."""
    wrap = np.floor(nodes)
    frac = nodes - wrap
    up = frac >= 1.0  # rounding of tiny negative coordinates
    frac[up] = 0.0
    wrap = wrap.astype(np.int64) + up
    shifts = shifts + wrap[struts[:, 1]] - wrap[struts[:, 0]]
    return frac, shifts


def _segment_key(frame: PeriodicFrame, decimals: int) -> str:
    """Digest of the set of strut segments, each taken in its canonical periodic image."""
    a = frame.nodes[frame.struts[:, 0]]
    b = frame.nodes[frame.struts[:, 1]] + frame.shifts
    a, b = np.round(a, decimals), np.round(b, decimals)
    # translate each segment so that its lexicographically smaller end lies in [0, 1)^3
    first_is_a = _lex_less_equal(a, b)
    lo = np.where(first_is_a[:, None], a, b)
    hi = np.where(first_is_a[:, None], b, a)
    cell = np.floor(lo + 10.0 ** (-decimals - 1))
    lo, hi = np.round(lo - cell, decimals), np.round(hi - cell, decimals)
    rows = np.concatenate([lo, hi], axis=1)
    rows = rows[np.lexsort(rows.T[::-1])]
    rows = rows + 0.0  # turn -0.0 into 0.0
    digest = hashlib.sha256()
    digest.update(np.round(frame.lattice_vectors, decimals).tobytes())
    digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def _lex_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ~_lex_less_equal(b, a)


def _lex_less_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.ones(len(a), dtype=bool)
    decided = np.zeros(len(a), dtype=bool)
    for k in range(3):
        less, greater = a[:, k] < b[:, k], a[:, k] > b[:, k]
        out[~decided & greater] = False
        decided |= less | greater
    return out
