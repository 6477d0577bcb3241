"""The data-set generator: elementary seeds -> perturbed library -> superpositions.

A *chunk* is generated independently from ``(seed, chunk_id)`` (NumPy ``SeedSequence``), so
chunks can be built in any order by any number of workers and the result depends only on the
seed, the chunk size and the parameters. Within a chunk:

1. a library of ``ceil(library_fraction * chunk_size)`` structures, each an elementary lattice
   (chosen uniformly) perturbed for ``n_iterations`` valid iterations
   (:mod:`trussvae.generation.perturbation`);
2. the rest of the chunk: superpositions of two library structures drawn with repetition
   (:func:`~trussvae.generation.superposition.superpose`), crossing struts split at template
   nodes, then validated;
3. every structure is kept once (canonical hash); rejections are counted by reason;
4. only if the chunk is still short (small chunks, whose small library has too few distinct pairs):
   the library grows one perturbed seed at a time, each new member superposed with up to
   ``EXTENSION_PARTNERS`` others (counted as ``library_extended``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from trussvae.design_space import DESIGN_SPACE_VERSION, TrussGraph, octant
from trussvae.design_space.truss_graph import arrays_to_graph, graph_to_arrays
from trussvae.design_space.validity import DEFAULT_RULES, check
from trussvae.generation.elementary import ELEMENTARY_NAMES, elementary
from trussvae.generation.perturbation import PerturbationParams, perturb
from trussvae.generation.superposition import split_intersections, superpose

#: bump when the algorithm changes in a way that changes the output for a given seed
GENERATOR_VERSION = "1.0"
#: smallest perturbed library per chunk (superpositions need variety)
MIN_LIBRARY = 16
#: superpositions of each structure added to the library when a chunk's first pass falls short
EXTENSION_PARTNERS = 8


@dataclass(frozen=True)
class GeneratorConfig:
    """All parameters of the generator (recorded beside every data set)."""

    perturbation: PerturbationParams = field(default_factory=PerturbationParams)
    library_fraction: float = 0.1
    seeds: tuple[str, ...] = ELEMENTARY_NAMES
    max_splits: int = 8
    #: give up on a chunk after this many candidates per requested structure
    max_attempts_factor: int = 20

    def __post_init__(self):
        if not 0 < self.library_fraction <= 1:
            raise ValueError(f"library_fraction must be in (0, 1], got {self.library_fraction}")
        unknown = [s for s in self.seeds if s not in ELEMENTARY_NAMES]
        if unknown or not self.seeds:
            raise ValueError(f"seeds must be a non-empty subset of {ELEMENTARY_NAMES}, got {self.seeds}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["perturbation"]["op_probabilities"] = list(self.perturbation.op_probabilities)
        d["seeds"] = list(self.seeds)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> GeneratorConfig:
        d = dict(d or {})
        pert = dict(d.pop("perturbation", {}) or {})
        if "op_probabilities" in pert:
            pert["op_probabilities"] = tuple(pert["op_probabilities"])
        if "seeds" in d:
            d["seeds"] = tuple(d["seeds"])
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(d) - known) + sorted(set(pert) - set(PerturbationParams.__dataclass_fields__))
        if bad:
            raise ValueError(f"unknown generator parameter(s): {bad}")
        return cls(perturbation=PerturbationParams(**pert), **d)


@dataclass
class Chunk:
    """Structures of one chunk as arrays (the storage layout, see :mod:`trussvae.io.store`)."""

    adjacency: np.ndarray  # (n, 351) bool, upper-triangular adjacency vectors
    offsets: np.ndarray  # (n, 27) float64 compact offsets (0 for inactive nodes)
    hashes: np.ndarray  # (n,) <U64 canonical hashes
    origin: np.ndarray  # (n,) int8: 0 library (perturbed seed), 1 superposition
    stats: dict
    #: further per-row arrays stored with the chunk (e.g. ``topology`` of the paper protocol)
    extra: dict = field(default_factory=dict)

    def graphs(self) -> list[TrussGraph]:
        return [arrays_to_graph(a, o) for a, o in zip(self.adjacency, self.offsets)]


def chunk_rng(seed: int, chunk_id: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(chunk_id)]))


def generate_chunk(seed: int, chunk_id: int, chunk_size: int, config: GeneratorConfig = GeneratorConfig()) -> Chunk:
    """Generate ``chunk_size`` unique valid structures for chunk ``chunk_id`` (deterministic)."""
    t0 = time.perf_counter()
    rng = chunk_rng(seed, chunk_id)
    stats: Counter = Counter()
    seen: set[str] = set()
    kept: list[tuple[TrussGraph, str, int]] = []
    n_library = min(chunk_size, max(MIN_LIBRARY, math.ceil(config.library_fraction * chunk_size)))
    seeds = [elementary(name) for name in config.seeds]
    library: list[TrussGraph] = []
    budget = config.max_attempts_factor * chunk_size

    def keep(g: TrussGraph, origin: int) -> bool:
        h = g.canonical_hash()
        if h in seen:
            stats["duplicate"] += 1
            return False
        seen.add(h)
        kept.append((g, h, origin))
        return True

    attempts = 0
    while len(library) < n_library and attempts < budget:
        attempts += 1
        g = perturb(seeds[rng.integers(len(seeds))], rng, config.perturbation, stats=stats)
        if keep(g, 0):
            library.append(g)
    def superposition(a: TrussGraph, b: TrussGraph) -> None:
        g, why = split_intersections(superpose(a, b), config.max_splits)
        if g is None:
            stats[why] += 1
            return
        bad = check(g.edges, g.positions, DEFAULT_RULES, first_only=True)
        if bad:
            stats[f"invalid:{bad[0][0]}"] += 1
            return
        keep(g, 1)

    while len(kept) < chunk_size and attempts < budget:
        attempts += 1
        a, b = rng.integers(len(library), size=2)
        superposition(library[a], library[b])
    # A small chunk can exhaust the distinct pairs of its small library (the rejections are then mostly
    # duplicates): grow the library by one perturbed seed at a time and superpose each new member with
    # a few others, within a second budget. A chunk that the first pass fills never gets here, so the
    # output of every such chunk (every data set built so far) is unchanged.
    while len(kept) < chunk_size and attempts < 2 * budget:
        attempts += 1
        g = perturb(seeds[rng.integers(len(seeds))], rng, config.perturbation, stats=stats)
        if not keep(g, 0):
            continue
        stats["library_extended"] += 1
        library.append(g)
        for b in rng.permutation(len(library) - 1)[:EXTENSION_PARTNERS]:
            if len(kept) >= chunk_size:
                break
            attempts += 1
            superposition(g, library[b])
    if len(kept) < chunk_size:
        raise RuntimeError(f"chunk {chunk_id}: only {len(kept)} of {chunk_size} unique valid structures after "
                           f"{attempts} attempts (rejections: {dict(stats)}); loosen the generator parameters")
    arrays = [graph_to_arrays(g) for g, _, _ in kept]
    stats_out = {"n": len(kept), "n_library": len(library), "attempts": attempts,
                 "seconds": round(time.perf_counter() - t0, 3), "rejections": dict(sorted(stats.items()))}
    return Chunk(
        adjacency=np.array([a for a, _ in arrays], dtype=bool).reshape(-1, octant.N_EDGES_CANDIDATE),
        offsets=np.array([o for _, o in arrays], dtype=np.float64).reshape(-1, octant.N_DOF),
        hashes=np.array([h for _, h, _ in kept], dtype="<U64"),
        origin=np.array([o for _, _, o in kept], dtype=np.int8),
        stats=stats_out,
    )


def generate_structures(n: int, seed: int, config: GeneratorConfig | None = None,
                        chunk_size: int = 1000) -> list[TrussGraph]:
    """``n`` unique valid design-space trusses, deterministic for ``(seed, chunk_size, config)``.

    In memory and on one core; for large sets use :func:`trussvae.generation.build_dataset`.
    """
    if int(n) < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    config = config or GeneratorConfig()
    out: list[TrussGraph] = []
    seen: set[str] = set()
    chunk_id = 0
    while len(out) < n:
        chunk = generate_chunk(seed, chunk_id, min(chunk_size, max(n, 1)), config)
        for h, g in zip(chunk.hashes, chunk.graphs()):
            if h not in seen and len(out) < n:
                seen.add(h)
                out.append(g)
        chunk_id += 1
    return out


def provenance(seed: int, chunk_size: int, config: GeneratorConfig) -> dict:
    """How a data set was made (stored beside the data)."""
    from trussvae import __version__

    return {"generator_version": GENERATOR_VERSION, "package_version": __version__,
            "design_space": DESIGN_SPACE_VERSION, "seed": int(seed), "chunk_size": int(chunk_size),
            "config": config.to_dict()}
