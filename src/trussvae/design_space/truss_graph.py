"""`TrussGraph`: a design-space lattice as the paper's graph (adjacency + node positions).

Representation (see :mod:`trussvae.design_space.octant` for the node order):

``adjacency``  (27, 27) bool, symmetric. Diagonal convention of the paper: ``A_ii = 1`` for
               every node; only off-diagonal entries are struts.
``positions``  (27, 3) float64 natural coordinates of every node in the octant ``[0, 1]^3``
               (template position + offsets on the node's free axes). Inactive nodes keep
               their positions but nothing reads them.
``active``     (27,) bool, derived: nodes with at least one strut.

Serialized VAE input (:meth:`TrussGraph.to_vae_input`): the strictly upper-triangular adjacency
vector (351,) in ``numpy.triu_indices(27, 1)`` order, and the node-feature vector: either the
paper's compact offsets (27,) = the free DOFs in node order, x<y<z (``features="offsets"``,
default; inactive nodes 0), or all positions (81,) = ``positions.ravel()``
(``features="positions"``; inactive nodes at the template).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np

from trussvae.design_space import octant
from trussvae.design_space.validity import (
    DEFAULT_RULES,
    ValidityRules,
    bounds_violations,
    check,
    full_cell_struts,
)
from trussvae.fem.elasticity import DEFAULT_RELATIVE_DENSITY
from trussvae.fem.frame import PeriodicFrame, uniform_radius
from trussvae.jsonio import dump_json, load_json_object

__all__ = ["TrussGraph", "TrussGraphError", "DESIGN_SPACE_VERSION", "graph_to_arrays", "arrays_to_graph"]

#: bump when the template, node order or serialisation changes (stored in data sets/checkpoints)
DESIGN_SPACE_VERSION = "octant27-v1"


class TrussGraphError(ValueError):
    """Malformed truss-graph input (shapes, NaN, unknown nodes, malformed JSON)."""


@dataclass(frozen=True, eq=False, init=False)
class TrussGraph:
    """A truss in the 27-node octant design space. Immutable; operations return copies."""

    adjacency: np.ndarray
    positions: np.ndarray

    def __init__(self, adjacency, positions=None):
        adj = np.asarray(adjacency)
        if adj.shape != (octant.N_NODES, octant.N_NODES):
            raise TrussGraphError(f"adjacency: expected shape (27, 27), got {adj.shape}")
        if adj.dtype != bool:
            if not np.all(np.isin(adj, (0, 1))):
                raise TrussGraphError("adjacency: entries must be 0/1 or boolean")
            adj = adj.astype(bool)
        if not np.array_equal(adj, adj.T):
            i, j = np.argwhere(adj != adj.T)[0]
            raise TrussGraphError(f"adjacency: not symmetric at ({i}, {j})")
        adj = adj.copy()
        np.fill_diagonal(adj, True)
        pos = octant.TEMPLATE_POSITIONS.copy() if positions is None else np.array(positions, dtype=np.float64)
        if pos.shape != (octant.N_NODES, 3):
            raise TrussGraphError(f"positions: expected shape (27, 3), got {pos.shape}")
        adj.setflags(write=False)
        pos.setflags(write=False)
        object.__setattr__(self, "adjacency", adj)
        object.__setattr__(self, "positions", pos)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_edges(cls, edges, positions=None, offsets=None) -> TrussGraph:
        """Build from struts given as index pairs or node names (``[("v0", "e1"), ...]``).

        ``offsets`` maps node names or indices to offsets on their free axes (a float for edge
        nodes, 2 for face nodes, 3 for the body node); alternatively pass full ``positions``.
        """
        adj = np.zeros((octant.N_NODES, octant.N_NODES), dtype=bool)
        for a, b in edges:
            i, j = (octant.node_index(x) if isinstance(x, str) else int(x) for x in (a, b))
            if not (0 <= i < octant.N_NODES and 0 <= j < octant.N_NODES) or i == j:
                raise TrussGraphError(f"invalid strut ({a}, {b})")
            adj[i, j] = adj[j, i] = True
        pos = octant.TEMPLATE_POSITIONS.copy() if positions is None else np.array(positions, dtype=np.float64)
        for node, value in (offsets or {}).items():
            k = octant.node_index(node) if isinstance(node, str) else int(node)
            free = np.flatnonzero(octant.FREE_MASK[k])
            value = np.atleast_1d(np.asarray(value, dtype=np.float64))
            if value.shape != free.shape:
                raise TrussGraphError(f"node {octant.NODE_NAMES[k]} has {len(free)} DOF(s), got {len(value)} offset(s)")
            pos[k, free] = octant.TEMPLATE_POSITIONS[k, free] + value
        return cls(adj, pos)

    @classmethod
    def from_offsets(cls, adjacency, offsets) -> TrussGraph:
        """Build from an adjacency matrix and the compact (27,) offset vector."""
        off = np.asarray(offsets, dtype=np.float64)
        if off.shape != (octant.N_DOF,):
            raise TrussGraphError(f"offsets: expected shape ({octant.N_DOF},), got {off.shape}")
        return cls(adjacency, octant.positions_from_offsets(off))

    # ------------------------------------------------------------------ derived views
    @property
    def edges(self) -> np.ndarray:
        """(E, 2) int64 active struts as node pairs (i < j), in upper-triangular order."""
        return octant.TRIU_PAIRS[self.adjacency[octant.TRIU_I, octant.TRIU_J]]

    @property
    def active(self) -> np.ndarray:
        """(27,) bool: nodes with at least one strut."""
        return (self.adjacency.sum(axis=1) - 1) > 0

    @property
    def n_struts(self) -> int:
        return int(self.adjacency[octant.TRIU_I, octant.TRIU_J].sum())

    @property
    def offsets(self) -> np.ndarray:
        """(27,) compact offsets on the free DOFs (see :mod:`trussvae.design_space.octant`)."""
        return octant.offsets_from_positions(self.positions)

    def replace(self, adjacency=None, positions=None) -> TrussGraph:
        return TrussGraph(self.adjacency if adjacency is None else adjacency,
                          self.positions if positions is None else positions)

    # ------------------------------------------------------------------ validity
    def validate(self, rules: ValidityRules = DEFAULT_RULES) -> list[str]:
        """Reasons this truss is invalid, one per violated rule; empty when valid.

        Rules and their codes: :mod:`trussvae.design_space.validity`.
        """
        return [reason for _, reason in check(self.edges, self.positions, rules)]

    def violations(self, rules: ValidityRules = DEFAULT_RULES, first_only: bool = False) -> list[tuple[str, str]]:
        """Like :meth:`validate` with rule codes: a list of ``(code, reason)``."""
        return check(self.edges, self.positions, rules, first_only=first_only)

    def is_valid(self, rules: ValidityRules = DEFAULT_RULES) -> bool:
        return not check(self.edges, self.positions, rules, first_only=True)

    def permute_axes(self, perm) -> TrussGraph:
        """The same lattice with its axes permuted: new axis ``a`` is old axis ``perm[a]``.

        The octant template is invariant under axis permutations, so the result is again a design-space
        truss (nodes are relabelled). Use it to turn a design's best direction onto a load axis:
        ``g.permute_axes((2, 0, 1))`` puts the old e3 response on e1."""
        perm = tuple(int(a) for a in perm)
        if sorted(perm) != [0, 1, 2]:
            raise TrussGraphError(f"permute_axes: {perm} is not a permutation of (0, 1, 2)")
        tpl = octant.TEMPLATE_POSITIONS
        # node i of the old template sits where node m[i] of the template sits after the permutation
        m = np.array([int(np.flatnonzero((tpl == tpl[i, list(perm)]).all(1))[0]) for i in range(octant.N_NODES)])
        adj = np.zeros_like(self.adjacency)
        adj[np.ix_(m, m)] = self.adjacency
        pos = np.empty_like(self.positions)
        pos[m] = self.positions[:, list(perm)]
        return TrussGraph(adj, pos)

    # ------------------------------------------------------------------ conversions
    def to_frame(self, relative_density: float | None = DEFAULT_RELATIVE_DENSITY,
                 radius: float | None = None) -> PeriodicFrame:
        """The full periodic unit cell as a :class:`~trussvae.fem.PeriodicFrame`.

        The octant is mirrored across its three symmetry planes; coincident nodes and struts
        are merged. The cell is the unit cube (side 1, octant at fractional ``[0, 0.5]^3``).
        Radius: uniform, from ``relative_density`` (default
        :data:`~trussvae.fem.elasticity.DEFAULT_RELATIVE_DENSITY`) unless ``radius`` is given.
        """
        edges = self.edges
        if len(edges) == 0:
            raise TrussGraphError("to_frame: the truss has no struts")
        active = self.active
        if not np.all(np.isfinite(self.positions[active])):
            raise TrussGraphError("to_frame: an active node has a non-finite position")
        bad = bounds_violations(self.positions, active)
        if bad:
            raise TrussGraphError(f"to_frame: {bad}")
        full = full_cell_struts(edges)
        struts, shifts = octant.FULL_STRUT_NODES[full], octant.FULL_STRUT_SHIFTS[full]
        used, compact = np.unique(struts, return_inverse=True)
        nodes = octant.full_node_fractional(self.positions)[used]
        struts = compact.reshape(-1, 2)
        if radius is None:
            if relative_density is None or not 0 < relative_density < 1:
                raise TrussGraphError(f"to_frame: relative_density must be in (0, 1), got {relative_density}")
            vec = nodes[struts[:, 1]] + shifts - nodes[struts[:, 0]]
            radius = uniform_radius(relative_density, float(np.sqrt(np.einsum("ij,ij->i", vec, vec)).sum()))
        if not radius > 0:
            raise TrussGraphError(f"to_frame: radius must be positive, got {radius}")
        # mirrored template geometry is well-formed by construction (bounds checked above)
        return PeriodicFrame._trusted(np.eye(3), nodes, struts, shifts, float(radius))

    def to_vae_input(self, features: str = "offsets") -> tuple[np.ndarray, np.ndarray]:
        """(adjacency_vector (351,) float32 0/1, node_features (27,) or (81,) float32). See module doc."""
        adj_vec = self.adjacency[octant.TRIU_I, octant.TRIU_J].astype(np.float32)
        active = self.active
        if features == "offsets":
            feats = np.where(active[octant.DOF_INDEX[:, 0]], self.offsets, 0.0)
        elif features == "positions":
            feats = np.where(active[:, None], self.positions, octant.TEMPLATE_POSITIONS).ravel()
        else:
            raise ValueError(f"features must be 'offsets' or 'positions', got {features!r}")
        return adj_vec, feats.astype(np.float32)

    @classmethod
    def from_vae_input(cls, adjacency_vector, node_features, threshold: float = 0.5) -> TrussGraph:
        """Inverse of :meth:`to_vae_input`; adjacency probabilities are thresholded at ``threshold``."""
        vec = np.asarray(adjacency_vector, dtype=np.float64).ravel()
        if vec.shape != (octant.N_EDGES_CANDIDATE,):
            raise TrussGraphError(f"adjacency vector: expected shape (351,), got {vec.shape}")
        adj = np.zeros((octant.N_NODES, octant.N_NODES), dtype=bool)
        adj[octant.TRIU_I, octant.TRIU_J] = vec > threshold
        adj |= adj.T
        feats = np.asarray(node_features, dtype=np.float64).ravel()
        if feats.shape == (octant.N_DOF,):
            return cls.from_offsets(adj, feats)
        if feats.shape == (octant.N_NODES * 3,):
            pos = feats.reshape(octant.N_NODES, 3)
            return cls.from_offsets(adj, octant.offsets_from_positions(pos))  # fixed coordinates snapped
        raise TrussGraphError(f"node features: expected shape (27,) or (81,), got {feats.shape}")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {
            "format": "trussvae.TrussGraph",
            "design_space": DESIGN_SPACE_VERSION,
            "struts": [[octant.NODE_NAMES[i], octant.NODE_NAMES[j]] for i, j in self.edges],
            "positions": self.positions.tolist(),
        }

    def to_json(self, path: str | Path | None = None, indent: int | None = None) -> str:
        """JSON text of :meth:`to_dict`, also written to ``path`` when given."""
        return dump_json(self.to_dict(), path, indent)

    @classmethod
    def from_dict(cls, data: dict) -> TrussGraph:
        if not isinstance(data, dict):
            raise TrussGraphError(f"truss graph: expected a JSON object, got {type(data).__name__}")
        if data.get("format", "trussvae.TrussGraph") != "trussvae.TrussGraph":
            raise TrussGraphError(f"truss graph: unexpected format {data.get('format')!r}")
        missing = [k for k in ("struts", "positions") if k not in data]
        if missing:
            raise TrussGraphError(f"truss graph: missing key(s) {missing}")
        try:
            pos = np.array(data["positions"], dtype=np.float64)
            struts = [tuple(s) for s in data["struts"]]
        except (TypeError, ValueError) as exc:
            raise TrussGraphError(f"truss graph: malformed struts/positions ({exc})") from exc
        if any(len(s) != 2 for s in struts):
            raise TrussGraphError("truss graph: every strut must be a pair of nodes")
        try:
            return cls.from_edges(struts, positions=pos)
        except KeyError as exc:
            raise TrussGraphError(f"truss graph: {exc.args[0]}") from exc

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> TrussGraph:
        """Parse JSON text, or read it from a path."""
        return cls.from_dict(load_json_object(text_or_path, TrussGraphError, "truss graph"))

    # ------------------------------------------------------------------ identity
    def canonical_hash(self) -> str:
        """Hex digest (128 bit) identifying the full periodic structure.

        Equal for representations of the same lattice: independent of inactive nodes,
        of straight struts split by collinear degree-2 nodes, and of the choice of mirror
        centre (the 8 octant reflections x -> 1-x, which translate the full lattice by half a
        cell). Different for rotated lattices (their stiffness differs). Coordinates are
        compared at 1e-6 (natural units).
        """
        lo, hi = _canonical_hash_kernel(np.ascontiguousarray(self.edges), np.ascontiguousarray(self.positions))
        return f"{int(lo):016x}{int(hi):016x}"

    def __eq__(self, other) -> bool:
        if not isinstance(other, TrussGraph):
            return NotImplemented
        return self.canonical_hash() == other.canonical_hash()

    def __hash__(self) -> int:
        return hash(self.canonical_hash())

    def __repr__(self) -> str:
        return f"TrussGraph(n_struts={self.n_struts}, active_nodes={int(self.active.sum())})"


def graph_to_arrays(graph: TrussGraph) -> tuple[np.ndarray, np.ndarray]:
    """(351,) bool adjacency vector and (27,) offsets (inactive nodes zeroed) of a graph."""
    adj_vec = graph.adjacency[octant.TRIU_I, octant.TRIU_J]
    act = graph.active[octant.DOF_INDEX[:, 0]]
    return adj_vec, np.where(act, graph.offsets, 0.0)


def arrays_to_graph(adj_vec: np.ndarray, offsets: np.ndarray) -> TrussGraph:
    """Inverse of :func:`graph_to_arrays` (the storage layout of :mod:`trussvae.io.store`)."""
    adj = np.zeros((octant.N_NODES, octant.N_NODES), dtype=bool)
    adj[octant.TRIU_I, octant.TRIU_J] = adj_vec
    return TrussGraph.from_offsets(adj | adj.T, offsets)


@nb.njit(cache=True)
def _mix64(x):
    """splitmix64 finaliser (wrapping uint64 arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@nb.njit(cache=True)
def _canonical_hash_kernel(edges, pos):
    """Multiset hash of the strut segments, minimised over the 8 octant reflections.

    Degree-2 nodes joining two collinear, opposite struts are merged first.
    """
    n = edges.shape[0]
    a = edges[:, 0].copy()
    b = edges[:, 1].copy()
    alive = np.ones(n, np.bool_)
    deg = np.zeros(27, np.int64)
    for e in range(n):
        deg[a[e]] += 1
        deg[b[e]] += 1
    for k in range(27):
        if deg[k] != 2:
            continue
        e1 = -1
        e2 = -1
        for e in range(n):
            if alive[e] and (a[e] == k or b[e] == k):
                if e1 < 0:
                    e1 = e
                else:
                    e2 = e
        if e2 < 0:
            continue
        p = a[e1] if b[e1] == k else b[e1]
        q = a[e2] if b[e2] == k else b[e2]
        u = pos[p] - pos[k]
        v = pos[q] - pos[k]
        cx = u[1] * v[2] - u[2] * v[1]
        cy = u[2] * v[0] - u[0] * v[2]
        cz = u[0] * v[1] - u[1] * v[0]
        nu = np.sqrt(u @ u)
        nv = np.sqrt(v @ v)
        if np.sqrt(cx * cx + cy * cy + cz * cz) <= 1e-9 * nu * nv and u @ v < 0:
            a[e1] = p
            b[e1] = q
            alive[e2] = False
    best_lo = np.uint64(0)
    best_hi = np.uint64(0)
    for m in range(8):
        lo = np.uint64(0)
        hi = np.uint64(0)
        for e in range(n):
            if not alive[e]:
                continue
            k1 = np.int64(0)
            k2 = np.int64(0)
            for d in range(3):
                x1 = pos[a[e], d]
                x2 = pos[b[e], d]
                if (m >> d) & 1:
                    x1 = 1.0 - x1
                    x2 = 1.0 - x2
                k1 = k1 * 2097152 + np.int64(np.round(x1 * 1e6))
                k2 = k2 * 2097152 + np.int64(np.round(x2 * 1e6))
            if k2 < k1:
                k1, k2 = k2, k1
            h = _mix64(np.uint64(k1) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(k2))
            lo += h
            hi += _mix64(h ^ np.uint64(0xD6E8FEB86659FD93))
        if m == 0 or lo < best_lo or (lo == best_lo and hi < best_hi):
            best_lo = lo
            best_hi = hi
    return best_lo, best_hi
