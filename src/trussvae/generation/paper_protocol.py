"""The data protocol of the paper's released generator, seeded and chunked (``generation=paper``).

Zheng et al. (2023) made their training data with a two-stage script (specification:
``shared/paper_code/FACTS.md`` section 3; deviations: docs/design_space.md, "The paper's data
protocol"). Reproduced here:

1. **Base topologies** (stage 1, topology only, nodes at the template): ``n_base_draws`` times,
   pick one of the four base lattices B2, A1, A2, C2 uniformly and rewire it: every candidate
   node of that lattice, with probability ``rewire_probability``, loses all its bars and gets one
   bar to a node drawn uniformly from its neighbour ball (the nodes whose coordinates differ by at
   most 0.5, itself included: drawing itself leaves it isolated). Then repair dangling nodes
   (degree exactly 1, a self-loop counting 1 in the first pass): in passes until none is left, each
   node listed at the start of the pass draws a node from its ball and, with probability
   ``repair_add_probability``, adds that bar, otherwise loses all its bars. Keep the result if its
   bars form exactly one connected component and its active nodes touch all six octant faces;
   de-duplicate (lexicographic order of the paper's 378-entry adjacency vectors).
2. **Topologies** (stage 2): unions (logical OR) of distinct pairs ``(i <= j)`` of base topologies,
   drawn uniformly without replacement; a union that is not one connected component is dropped
   (with all its variants), as the original does after the fact.
3. **Geometric variants**: ``variants_per_topology`` per topology; in each, every active non-vertex
   node moves with probability ``move_probability``, drawing each of its free coordinates'
   offsets i.i.d. from ``U[-offset_range, offset_range)``; positions follow the original's maps
   (edge node: ``0.5 + r``; face and body nodes: ``(1 - s) / 2`` per free coordinate).

Randomness: stage 1 and the pair draw use streams derived from the seed; the variants of topology
``t`` use a stream derived from ``(seed, t)`` only, so the data set does not depend on the chunk
size or on the number of workers, and all variants of a topology sit in one chunk. The "plan"
(base topologies and the chosen pairs) is computed once and stored beside the data
(``paper_plan.npz``); chunks of ``chunk_size // variants_per_topology`` topologies are built in
parallel from it.

The paper's node numbering (``PAPER_POSITIONS``, FACTS.md section 1.1) is used internally for its
base lattices and candidate lists only; everything leaving this module is in the design-space
numbering (:mod:`trussvae.design_space.octant`).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from trussvae.design_space import DESIGN_SPACE_VERSION, TrussGraph, octant
from trussvae.design_space.validity import DEFAULT_RULES, RULES, check
from trussvae.generation.generator import Chunk, graph_to_arrays
from trussvae.io.store import LatticeStore, atomic_save_npz
from trussvae.parallel import run_tasks

log = logging.getLogger(__name__)

__all__ = ["PAPER_PROTOCOL_VERSION", "PaperProtocolConfig", "BASE_LATTICES", "PAPER_POSITIONS", "PAPER_TO_OURS",
           "base_lattice", "paper_offsets_to_positions", "base_topologies", "plan_topologies",
           "generate_variants", "generate_paper_chunk", "build_paper_dataset", "paper_provenance",
           "n_components", "touches_six_faces"]

#: bump when the output for a given seed and configuration changes
PAPER_PROTOCOL_VERSION = "1.0"
#: the base lattices of the released generator, in its index order
BASE_LATTICES = ("B2", "A1", "A2", "C2")
PLAN_FILE = "paper_plan.npz"
_STREAM_BASE, _STREAM_PAIRS, _STREAM_VARIANTS = 1, 2, 3


# ----------------------------------------------------------------------------- the paper's numbering
def _paper_positions() -> np.ndarray:
    """Template positions of the paper's nodes: index 9k + p, layer z = k/2, snake order within."""
    pos = np.zeros((27, 3))
    for k in range(3):
        for p in range(9):
            row, col = divmod(p, 3)
            x = (2 - col) if row == 1 else col  # the y = 0.5 row runs with x descending
            pos[9 * k + p] = (0.5 * x, 0.5 * row, 0.5 * k)
    return pos


PAPER_POSITIONS = _paper_positions()
#: our node index of each paper node (same template position)
PAPER_TO_OURS = np.array([int(np.flatnonzero((octant.TEMPLATE_POSITIONS == p).all(1))[0]) for p in PAPER_POSITIONS])
_FREE = octant.FREE_MASK[PAPER_TO_OURS]  # free coordinates of the paper's nodes
_TYPE = octant.NODE_TYPES[PAPER_TO_OURS]  # 0 vertex, 1 edge, 2 face, 3 body
for _a in (PAPER_POSITIONS, PAPER_TO_OURS, _FREE, _TYPE):
    _a.setflags(write=False)

_BASE_BARS = {
    "B2": [(0, 13), (13, 26)],
    "A1": [(8, 17), (17, 26), (20, 21), (21, 26), (24, 25), (25, 26)],
    "A2": [(0, 1), (0, 5), (0, 9), (1, 2), (2, 3), (2, 11), (3, 8), (5, 6), (6, 7), (6, 15), (7, 8), (8, 17),
           (9, 18), (11, 20), (15, 24), (17, 26), (18, 19), (18, 23), (19, 20), (20, 21), (21, 26), (23, 24),
           (24, 25), (25, 26)],
    "C2": [(2, 4), (2, 10), (2, 12), (4, 6), (6, 14), (6, 16), (10, 18), (12, 26), (14, 18), (16, 26), (18, 22),
           (22, 26)],
}
#: nodes rewired by the topology perturbation, in the order the original processes them
_CANDIDATES = {"B2": [17], "A1": [1, 3, 5, 7, 9, 11, 17, 15, 19, 21, 23, 25], "A2": [17, 21, 25],
               "C2": [14, 10, 22, 16, 12, 4]}
#: neighbour ball of each node (KD-tree radius sqrt(3)/2 + 1e-6, the node itself included)
_BALL = [np.flatnonzero(np.linalg.norm(PAPER_POSITIONS - p, axis=1) <= np.sqrt(3) / 2 + 1e-6)
         for p in PAPER_POSITIONS]


def _paper_adjacency(bars) -> np.ndarray:
    a = np.zeros((27, 27), dtype=np.int8)
    for i, j in bars:
        a[i, j] = a[j, i] = 1
    return a


def _to_ours(adj_paper: np.ndarray) -> np.ndarray:
    """(27, 27) bool adjacency in the paper's numbering -> ours (boolean, zero diagonal)."""
    out = np.zeros((27, 27), dtype=bool)
    out[np.ix_(PAPER_TO_OURS, PAPER_TO_OURS)] = adj_paper.astype(bool)
    np.fill_diagonal(out, False)
    return out


def base_lattice(name: str) -> TrussGraph:
    """One of the four base lattices of the released generator (``BASE_LATTICES``) as a TrussGraph."""
    if name not in _BASE_BARS:
        raise KeyError(f"unknown base lattice {name!r}; choose from {BASE_LATTICES}")
    return TrussGraph(_to_ours(_paper_adjacency(_BASE_BARS[name])))


def paper_offsets_to_positions(offsets: np.ndarray) -> np.ndarray:
    """(..., 27, 3) offsets in the paper's numbering and convention -> (..., 27, 3) positions (same
    numbering): edge node ``0.5 + r`` on its free coordinate, face and body nodes ``(1 - s) / 2`` on
    each free coordinate; fixed coordinates stay at the template (FACTS.md section 1.3)."""
    s = np.asarray(offsets, dtype=np.float64)
    edge = (_TYPE == 1)[:, None] & _FREE
    other = (_TYPE >= 2)[:, None] & _FREE
    pos = np.broadcast_to(PAPER_POSITIONS, s.shape).copy()
    pos = np.where(edge, 0.5 + s, pos)
    return np.where(other, 0.5 * (1.0 - s), pos)


# ----------------------------------------------------------------------------- filters
def n_components(adj: np.ndarray) -> int:
    """Connected components of the graph of the bars (nodes without bars do not count; 0 if empty)."""
    adj = np.asarray(adj, dtype=bool).copy()
    np.fill_diagonal(adj, False)
    active = adj.any(axis=0)
    seen = ~active
    count = 0
    while not seen.all():
        frontier = np.zeros(len(adj), dtype=bool)
        frontier[int(np.flatnonzero(~seen)[0])] = True
        count += 1
        while frontier.any():
            seen |= frontier
            frontier = adj[frontier].any(axis=0) & ~seen
    return count


def touches_six_faces(adj: np.ndarray, positions: np.ndarray) -> bool:
    """The active nodes (at least one bar) reach all six faces of the octant ``[0, 1]^3``."""
    adj = np.asarray(adj, dtype=bool)
    active = (adj & ~np.eye(len(adj), dtype=bool)).any(axis=0)
    if not active.any():
        return False
    p = np.asarray(positions)[active]
    return bool(np.all(p.min(axis=0) <= 0.0) and np.all(p.max(axis=0) >= 1.0))


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class PaperProtocolConfig:
    """Parameters of the paper's protocol (defaults: the released code's values)."""

    variants_per_topology: int = 20
    n_base_draws: int = 20000
    base_lattices: tuple[str, ...] = BASE_LATTICES
    rewire_probability: float = 0.5
    repair_add_probability: float = 0.5
    move_probability: float = 0.5
    offset_range: float = 0.5
    #: dangling-node repair passes before a draw is given up (the original loops until done)
    max_repair_passes: int = 1000

    def __post_init__(self):
        for name in ("variants_per_topology", "n_base_draws", "max_repair_passes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"generation.{name} must be a positive integer, got {v!r}")
        for name in ("rewire_probability", "repair_add_probability", "move_probability"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
                raise ValueError(f"generation.{name} must be a probability in [0, 1], got {v!r}")
        if not isinstance(self.offset_range, int | float) or not 0.0 < self.offset_range <= 0.5:
            raise ValueError(f"generation.offset_range must be in (0, 0.5] (edge nodes must stay on their edge), "
                             f"got {self.offset_range!r}")
        bad = [b for b in self.base_lattices if b not in BASE_LATTICES]
        if bad or not self.base_lattices or len(set(self.base_lattices)) != len(self.base_lattices):
            raise ValueError(f"generation.base_lattices must be distinct names from {list(BASE_LATTICES)}, "
                             f"got {list(self.base_lattices)}")

    def to_dict(self) -> dict:
        return {"name": "paper", **asdict(self), "base_lattices": list(self.base_lattices)}

    @classmethod
    def from_dict(cls, d: dict | None) -> PaperProtocolConfig:
        d = dict(d or {})
        name = d.pop("name", "paper")
        if name != "paper":
            raise ValueError(f"not a paper-protocol configuration (generation.name={name!r})")
        bad = sorted(set(d) - set(cls.__dataclass_fields__))
        if bad:
            raise ValueError(f"unknown paper-protocol parameter(s) {bad}; known: {sorted(cls.__dataclass_fields__)}")
        if "base_lattices" in d:
            d["base_lattices"] = tuple(d["base_lattices"])
        return cls(**d)


# ----------------------------------------------------------------------------- stage 1
def _perturb_topology(name: str, rng: np.random.Generator, cfg: PaperProtocolConfig, stats: Counter):
    """Rewiring + dangling-node repair of one base lattice (paper numbering); None if the repair
    did not finish within ``max_repair_passes``."""
    a = _paper_adjacency(_BASE_BARS[name])
    for k in _CANDIDATES[name]:
        if rng.random() < cfg.rewire_probability:
            a[k, :] = 0
            a[:, k] = 0
            t = _BALL[k][rng.integers(len(_BALL[k]))]
            a[k, t] = a[t, k] = 1  # t == k: a self-loop, which counts as degree 1 until cleared
    dangling = np.flatnonzero(a.sum(axis=0) == 1)
    passes = 0
    while dangling.size:
        passes += 1
        if passes > cfg.max_repair_passes:
            stats["repair_limit"] += 1
            return None
        for j in dangling:  # the list of the start of the pass, even if degrees changed meanwhile
            t = _BALL[j][rng.integers(len(_BALL[j]))]
            if rng.random() < cfg.repair_add_probability:
                a[j, t] = a[t, j] = 1
            else:
                a[j, :] = 0
                a[:, j] = 0
            np.fill_diagonal(a, 0)
        dangling = np.flatnonzero(a.sum(axis=0) == 1)
    np.fill_diagonal(a, 0)
    return a


def base_topologies(seed: int, cfg: PaperProtocolConfig) -> tuple[np.ndarray, np.ndarray, dict]:
    """Stage 1: ``(adjacency (T, 27, 27) bool in our numbering, base-lattice index (T,), stats)``.

    Deterministic for ``(seed, cfg)``; ordered like the original's output (lexicographic order of
    the paper's 378-entry upper-triangle-with-diagonal vectors).
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM_BASE]))
    stats: Counter = Counter()
    kept, origin = [], []
    triu = np.triu_indices(27)
    for _ in range(cfg.n_base_draws):
        name = cfg.base_lattices[rng.integers(len(cfg.base_lattices))]
        a = _perturb_topology(name, rng, cfg, stats)
        if a is None:
            continue
        nc = n_components(a)
        if nc != 1:
            stats["empty" if nc == 0 else "disconnected"] += 1
            continue
        if not touches_six_faces(a, PAPER_POSITIONS):
            stats["six_face"] += 1
            continue
        kept.append(a[triu])
        origin.append(BASE_LATTICES.index(name))
    if not kept:
        raise RuntimeError(f"paper protocol: no base topology survived {cfg.n_base_draws} draws ({dict(stats)})")
    vecs, first = np.unique(np.array(kept, dtype=np.int8), axis=0, return_index=True)
    stats["duplicate"] = len(kept) - len(vecs)
    adj = np.zeros((len(vecs), 27, 27), dtype=np.int8)
    adj[:, triu[0], triu[1]] = vecs
    adj = adj | np.swapaxes(adj, 1, 2)
    ours = np.array([_to_ours(a) for a in adj])
    base_origin = np.array(origin, dtype=np.int8)[first]
    out = {"draws": int(cfg.n_base_draws), "kept": len(kept), "unique": len(vecs),
           "rejections": dict(sorted(stats.items())),
           "unique_by_base": {b: int((base_origin == i).sum()) for i, b in enumerate(BASE_LATTICES)}}
    return ours, base_origin, out


# ----------------------------------------------------------------------------- stage 2
def _pair_stream(rng: np.random.Generator, m: int):
    """Indices of ``range(m)`` in uniformly random order without repetition (prefix-stable: the first
    ``k`` do not depend on how many are taken)."""
    if m <= 2_000_000:
        yield from (int(k) for k in rng.permutation(m))
        return
    seen: set[int] = set()
    while len(seen) < m:
        for k in rng.integers(m, size=4096):
            k = int(k)
            if k not in seen:
                seen.add(k)
                yield k


def _decode_pair(k: int, t: int) -> tuple[int, int]:
    """k-th pair (i <= j) of ``range(t)`` in ``combinations_with_replacement`` order."""
    # row i starts at i*t - i*(i-1)/2; invert the quadratic, then fix rounding
    i = int((2 * t + 1 - math.sqrt((2 * t + 1) ** 2 - 8 * k)) // 2)
    while i > 0 and i * t - i * (i - 1) // 2 > k:
        i -= 1
    while (i + 1) * t - (i + 1) * i // 2 <= k:
        i += 1
    return i, i + k - (i * t - i * (i - 1) // 2)


def plan_topologies(base: np.ndarray, n_topologies: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Stage 2: ``(pairs (n, 2), union adjacency vectors (n, 351) bool, stats)`` for the first
    ``n_topologies`` connected, distinct unions of distinct base-topology pairs (drawn uniformly)."""
    t = len(base)
    m = t * (t + 1) // 2
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM_PAIRS]))
    active = base.any(axis=2)
    pairs, unions, seen = [], [], set()
    stats = Counter()
    for k in _pair_stream(rng, m):
        if len(pairs) == n_topologies:
            break
        i, j = _decode_pair(k, t)
        stats["drawn"] += 1
        if not (active[i] & active[j]).any():  # two connected graphs: one component iff they share a node
            stats["disconnected_union"] += 1
            continue
        vec = (base[i] | base[j])[octant.TRIU_I, octant.TRIU_J]
        key = np.packbits(vec).tobytes()
        if key in seen:
            stats["duplicate_union"] += 1
            continue
        seen.add(key)
        pairs.append((i, j))
        unions.append(vec)
    if len(pairs) < n_topologies:
        raise RuntimeError(f"paper protocol: only {len(pairs)} distinct connected unions of the {t} base topologies "
                           f"exist, {n_topologies} requested; raise generation.n_base_draws or lower n")
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(unions, dtype=bool).reshape(-1, 351), dict(stats)


# ----------------------------------------------------------------------------- geometric variants
def generate_variants(union_vec: np.ndarray, topology_id: int, seed: int, cfg: PaperProtocolConfig,
                      stats: Counter | None = None) -> list[TrussGraph]:
    """The ``variants_per_topology`` geometric variants of one topology (deterministic for
    ``(seed, topology_id, cfg)``)."""
    stats = Counter() if stats is None else stats
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM_VARIANTS, int(topology_id)]))
    adj = np.zeros((27, 27), dtype=bool)
    adj[octant.TRIU_I, octant.TRIU_J] = union_vec
    adj |= adj.T
    active_paper = adj.any(axis=0)[PAPER_TO_OURS]
    movable = active_paper & (_TYPE > 0)
    v = cfg.variants_per_topology
    move = (rng.random((v, 27)) < cfg.move_probability) & movable
    u = rng.random((v, 27, 3))
    while (zero := u == 0.0).any():  # U[-d, d) can return -d exactly: an edge node on a vertex
        stats["offset_redrawn"] += int(zero.sum())
        u[zero] = rng.random(int(zero.sum()))
    offsets = np.where(move[:, :, None] & _FREE, cfg.offset_range * (2.0 * u - 1.0), 0.0)
    positions = paper_offsets_to_positions(offsets)
    ours = np.empty_like(positions)
    ours[:, PAPER_TO_OURS] = positions
    stats["zero_offset_variants"] += int((~move.any(axis=1)).sum())
    return [TrussGraph(adj, p) for p in ours]


def generate_paper_chunk(unions: np.ndarray, pairs: np.ndarray, topology_ids: np.ndarray, seed: int,
                         cfg: PaperProtocolConfig) -> Chunk:
    """All variants of the given topologies as a store chunk (with a ``topology`` id per row).

    Every structure passes the protocol's filters (one component, six faces); our stricter
    validity rules are evaluated, not applied: ``extra["strict_violations"]`` is a bitmask over
    :data:`trussvae.design_space.validity.RULES` (bit ``k`` set: rule ``RULES[k]`` violated).
    """
    t0 = time.perf_counter()
    stats: Counter = Counter()
    adjs, offs, hashes, topo, origin, masks = [], [], [], [], [], []
    for t in topology_ids:
        graphs = generate_variants(unions[t], int(t), seed, cfg, stats)
        connected = n_components(graphs[0].adjacency) == 1  # the topology is shared by its variants
        for g in graphs:
            if not connected or not touches_six_faces(g.adjacency, g.positions):
                raise RuntimeError(f"topology {t}: a variant fails the protocol's filters (a bug in the generator)")
            codes = sorted({code for code, _ in check(g.edges, g.positions, DEFAULT_RULES)})
            masks.append(sum(1 << RULES.index(code) for code in codes))
            a, o = graph_to_arrays(g)
            adjs.append(a)
            offs.append(o)
            hashes.append(g.canonical_hash())
            topo.append(int(t))
            origin.append(int(pairs[t, 0] != pairs[t, 1]))
    out_stats = {"n": len(adjs), "topologies": [int(topology_ids[0]), int(topology_ids[-1]) + 1] if len(adjs) else [],
                 "seconds": round(time.perf_counter() - t0, 3), "counts": dict(sorted(stats.items())),
                 "rejections": {}}
    return Chunk(adjacency=np.array(adjs, dtype=bool).reshape(-1, octant.N_EDGES_CANDIDATE),
                 offsets=np.array(offs, dtype=np.float64).reshape(-1, octant.N_DOF),
                 hashes=np.array(hashes, dtype="<U64"), origin=np.array(origin, dtype=np.int8),
                 stats=out_stats, extra={"topology": np.array(topo, dtype=np.int64),
                                         "strict_violations": np.array(masks, dtype=np.uint8)})


# ----------------------------------------------------------------------------- data set
def paper_provenance(seed: int, chunk_size: int, cfg: PaperProtocolConfig) -> dict:
    from trussvae import __version__

    return {"name": "paper", "generator_version": PAPER_PROTOCOL_VERSION, "package_version": __version__,
            "design_space": DESIGN_SPACE_VERSION, "seed": int(seed), "chunk_size": int(chunk_size),
            "topologies_per_chunk": max(1, int(chunk_size) // cfg.variants_per_topology), "config": cfg.to_dict()}


def _load_plan(root: Path) -> dict | None:
    path = root / PLAN_FILE
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _make_plan(store: LatticeStore, n_topologies: int, seed: int, cfg: PaperProtocolConfig) -> dict:
    plan = _load_plan(store.root)
    if plan is not None and len(plan["pairs"]) >= n_topologies:
        return plan
    t0 = time.perf_counter()
    base, base_origin, s1 = base_topologies(seed, cfg)
    pairs, unions, s2 = plan_topologies(base, n_topologies, seed)
    plan = {"base": base[:, octant.TRIU_I, octant.TRIU_J], "base_origin": base_origin, "pairs": pairs,
            "unions": unions}
    atomic_save_npz(store.root / PLAN_FILE, **plan)
    store.update_meta(paper_protocol={"stage1": s1, "stage2": {**s2, "topologies": len(pairs)},
                                      "plan_seconds": round(time.perf_counter() - t0, 2)})
    log.info("paper protocol: %d base topologies, %d topologies planned", len(base), len(pairs))
    return plan


def _build_chunk(root: str, seed: int, tpc: int, config: dict, chunk_id: int) -> dict:
    cfg = PaperProtocolConfig.from_dict(config)
    store = LatticeStore(root)
    plan = _load_plan(Path(root))
    ids = np.arange(chunk_id * tpc, (chunk_id + 1) * tpc)
    chunk = generate_paper_chunk(plan["unions"], plan["pairs"], ids, seed, cfg)
    store.write_structure_chunk(chunk_id, chunk)
    return chunk.stats


def build_paper_dataset(root: str | Path, n: int, seed: int = 0, chunk_size: int = 1000,
                        config: PaperProtocolConfig | None = None, scheduler: str = "local",
                        n_workers: int | None = None, progress: bool = True) -> LatticeStore:
    """Generate ``n`` structures with the paper's protocol into the store at ``root`` (created or
    resumed). ``ceil(n / variants_per_topology)`` topologies (rounded up to whole chunks of
    ``chunk_size // variants_per_topology`` topologies) are generated; the data set is the first
    ``n`` rows, in topology order, variants of a topology consecutive."""
    cfg = config or PaperProtocolConfig()
    if int(n) <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if int(chunk_size) <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    prov = paper_provenance(seed, chunk_size, cfg)
    store = LatticeStore.create_or_open(root, {"design_space": DESIGN_SPACE_VERSION, "generator": prov})
    v, tpc = cfg.variants_per_topology, prov["topologies_per_chunk"]
    n_chunks = math.ceil(math.ceil(int(n) / v) / tpc)
    _make_plan(store, n_chunks * tpc, seed, cfg)
    todo = [c for c in range(n_chunks) if c not in set(store.structure_chunks())]
    if todo:
        log.info("paper protocol: generating %d chunk(s) of %d topologies x %d variants", len(todo), tpc, v)
        run_tasks(partial(_build_chunk, str(store.root), int(seed), tpc, cfg.to_dict()), todo, scheduler=scheduler,
                  n_workers=n_workers, desc="structures (paper protocol)", progress=progress)
    chunk_ids = np.repeat(np.arange(n_chunks), tpc * v)[: int(n)]
    rows = np.tile(np.arange(tpc * v), n_chunks)[: int(n)]
    store.write_index(chunk_ids, rows)
    counts = Counter()
    for c in range(n_chunks):
        counts.update(store.chunk_stats(c)["counts"])
    s = store.load_structures()
    mask = s["strict_violations"]
    strict = {code: int(((mask >> k) & 1).sum()) for k, code in enumerate(RULES) if ((mask >> k) & 1).any()}
    counts["duplicate_structures"] = int(len(s["hashes"]) - len(set(s["hashes"].tolist())))
    store.update_meta(n=int(n), n_chunks=int(n_chunks), n_topologies=int(len(np.unique(s["topology"]))),
                      rejections={}, structure_counts=dict(sorted(counts.items())),
                      strict_validity={"note": "kept: the paper protocol does not apply our validity rules "
                                               "(trussvae.design_space.validity); per rule, the number of structures "
                                               "of the data set violating it (strict_violations bitmask per row)",
                                       "n_invalid": int((mask != 0).sum()), "n_valid": int((mask == 0).sum()),
                                       "violations": strict})
    return store
