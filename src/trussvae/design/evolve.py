"""FE-driven evolutionary search over topology and offsets (beyond the paper).

The polish (:mod:`trussvae.design.polish`) is a local search: it descends from one candidate and
stops in the nearest local optimum. :func:`evolve` searches more globally, with a population of
designs seeded by the FE-verified latent candidates, and judges every design by FE only (the
predictor plays no part). It is a (mu + lambda) steady-state genetic algorithm:

* **population**: the ``population`` best distinct designs seen so far, ranked feasible first, then
  by the objective's loss; at most ``max_per_topology`` of them share one strut set, so that one
  topology with many offset variants cannot crowd the others out;
* **offspring** (``offspring`` per generation, each a valid truss not evaluated before; parents by
  3-way tournament):

  - *offset mutation* (35 %): Gaussian steps (sigma drawn from ``mutation_scales``) on a random
    half of the active node's free offsets, clipped to ``(-0.5 + margin, 0.5 - margin)``;
  - *topology mutation* (35 %): a random one-edit neighbour
    (:func:`~trussvae.design.polish.topology_neighbours` with node moves), half of them with an
    offset mutation as well;
  - *crossover* (30 %): the struts both parents share, each strut only one has with probability
    1/2, and each node's offsets from either parent;

* one FE batch per generation (``n_jobs`` processes); the search stops after ``generations``
  generations or when a generation ends past ``time_limit`` seconds.

It is deterministic for a given ``seed`` (the FE runs are). Measured on the stiffer-curve target
(``docs/design.md``): seeded with the 30 polished latent candidates it lowers the best NRMSE from
0.0362 to 0.0350; seeded with the 120 best training structures instead, it reaches only 0.106,
so the latent stage's starts matter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from trussvae.design.evaluate import Evaluator, design_id, rank_key
from trussvae.design.polish import topology_neighbours
from trussvae.design_space import TrussGraph, octant

__all__ = ["evolve", "EvolveConfig", "EvolveResult"]


@dataclass(frozen=True)
class EvolveConfig:
    """The evolution stage of a design run (``evolve:`` in ``conf/design.yaml``)."""

    #: generations after the polish (0 = off)
    generations: int = 0
    #: designs kept per generation (at most 6 per strut set)
    population: int = 60
    #: new designs (one FE batch) per generation
    offspring: int = 48
    #: seconds; the evolution stops after the first generation that ends past it (None: no limit)
    time_limit: float | None = None

    def __post_init__(self):
        if int(self.generations) < 0:
            raise ValueError(f"evolve.generations must be >= 0, got {self.generations}")
        for name in ("population", "offspring"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"evolve.{name} must be >= 1, got {getattr(self, name)}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"evolve.time_limit must be positive seconds or null, got {self.time_limit}")

    def kwargs(self) -> dict:
        """The keyword arguments of :func:`evolve` these settings stand for."""
        return {"generations": self.generations, "population": self.population, "offspring": self.offspring,
                "time_limit": self.time_limit}


@dataclass
class EvolveResult:
    """The final population, best first (feasible before infeasible, then by loss)."""

    graphs: list[TrussGraph]
    #: FE properties of ``graphs``: (n, 6, 6) stiffness or (n, 13) stresses
    props: np.ndarray
    losses: np.ndarray
    feasible: np.ndarray
    #: objective value of the best design after each generation (index 0: the seeds)
    best_value_history: list[float] = field(default_factory=list)
    n_fe_evaluations: int = 0
    n_generations: int = 0


def evolve(seeds, objective, fe=None, generations: int = 100, population: int = 60, offspring: int = 48,
           max_per_topology: int = 6, mutation_scales=(0.005, 0.02, 0.06), seed: int = 0, n_jobs: int = 1,
           time_limit: float | None = None, margin: float = 1e-3, seed_props=None) -> EvolveResult:
    """Evolve the designs ``seeds`` (TrussGraphs) for ``objective`` by FE; see the module doc.

    ``objective``: the objective, or an :class:`~trussvae.design.evaluate.Evaluator` of it (its FE
    settings and cache); ``fe``/``n_jobs``: FE settings and worker processes for a bare objective
    (default settings: those of the objective's kind). Designs are told apart by
    :func:`~trussvae.design.evaluate.design_id`, ranked by :func:`~trussvae.design.evaluate.rank_key`.
    ``seed_props``: the seeds' FE properties if already known (saves their FE runs), else None.

    Raises
    ------
    ValueError
        If a size is not positive, or no seed is a valid truss with a finite FE response.
    """
    for name, v in (("population", population), ("offspring", offspring), ("max_per_topology", max_per_topology)):
        if int(v) < 1:
            raise ValueError(f"evolve: {name} must be >= 1, got {v}")
    if int(generations) < 0:
        raise ValueError(f"evolve: generations must be >= 0, got {generations}")
    scales = np.asarray(mutation_scales, dtype=float)
    if scales.ndim != 1 or len(scales) == 0 or not np.all(scales > 0):
        raise ValueError(f"evolve: mutation_scales must be positive numbers, got {mutation_scales!r}")
    ev = Evaluator.of(objective, fe, n_jobs)
    objective = ev.objective
    rng = np.random.default_rng(seed)
    bound = 0.5 - margin
    free_node = octant.DOF_INDEX[:, 0]
    t0 = time.perf_counter()
    n_fe = 0
    pool: dict = {}  # design id -> (rank key, graph, props)
    seen: set = set()

    def add(graphs, props=None):
        nonlocal n_fe
        if props is None:
            e = ev.evaluate(graphs)
            n_fe += e.n_fe
        else:
            e = ev.score(props)
        for g, p, lo, f in zip(graphs, e.props, e.loss, e.feasible):
            seen.add(design_id(g))
            if np.isfinite(lo):
                pool[design_id(g)] = (rank_key(lo, f), g, p)

    def trim():
        kept, per_topology = {}, {}
        for k, item in sorted(pool.items(), key=lambda kv: kv[1][0]):
            a = item[1].adjacency.tobytes()  # the strut set
            if per_topology.get(a, 0) >= max_per_topology:
                continue
            per_topology[a] = per_topology.get(a, 0) + 1
            kept[k] = item
            if len(kept) >= population:
                break
        pool.clear()
        pool.update(kept)

    def best_value():
        return float(objective.value(min(pool.values(), key=lambda item: item[0])[2]))

    unique = {}  # the first of each distinct valid seed
    for k, g in enumerate(seeds):
        if g is not None and g.n_struts and g.is_valid():
            unique.setdefault(design_id(g), k)
    order = sorted(unique.values())
    if seed_props is not None:
        add([seeds[k] for k in order], np.asarray(seed_props)[order])
    else:
        add([seeds[k] for k in order])
    if not pool:
        raise ValueError(f"evolve: none of the {len(seeds)} seeds ({len(order)} valid) has a finite FE response")
    trim()
    history = [best_value()]

    def tournament() -> TrussGraph:
        items = list(pool.values())
        picks = rng.integers(len(items), size=min(3, len(items)))
        return min((items[i] for i in picks), key=lambda item: item[0])[1]

    def mutate_offsets(g: TrussGraph, sigma: float) -> TrussGraph:
        x = g.offsets.copy()
        act = g.active[free_node]
        mask = act & (rng.random(len(x)) < 0.5)
        if not mask.any():
            mask = act
        x[mask] += rng.normal(0.0, sigma, int(mask.sum()))
        return TrussGraph.from_offsets(g.adjacency, np.clip(x, -bound, bound))

    def crossover(a: TrussGraph, b: TrussGraph) -> TrussGraph:
        A, B = a.adjacency, b.adjacency
        pick = np.triu((A ^ B) & (rng.random(A.shape) < 0.5), 1)
        adj = (A & B) | pick | pick.T
        node_from_a = rng.random(octant.N_NODES) < 0.5
        x = np.where(node_from_a[free_node], a.offsets, b.offsets)
        return TrussGraph.from_offsets(adj, x)

    def child() -> TrussGraph | None:
        for _ in range(20):  # a few tries for a new valid design
            u = rng.random()
            if u < 0.35:
                g = mutate_offsets(tournament(), float(rng.choice(scales)))
            elif u < 0.70:
                nbrs = topology_neighbours(tournament(), node_moves=True)
                if not nbrs:
                    continue
                g = nbrs[int(rng.integers(len(nbrs)))]
                if rng.random() < 0.5:
                    g = mutate_offsets(g, float(rng.choice(scales)))
            else:
                g = crossover(tournament(), tournament())
            if g.n_struts and design_id(g) not in seen and g.is_valid():
                seen.add(design_id(g))
                return g
        return None

    done = 0
    for _ in range(int(generations)):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        kids = [g for g in (child() for _ in range(int(offspring))) if g is not None]
        if not kids:
            break
        add(kids)
        trim()
        done += 1
        history.append(best_value())
    items = sorted(pool.values(), key=lambda item: item[0])
    return EvolveResult(graphs=[g for _, g, _ in items], props=np.array([p for _, _, p in items]),
                        losses=np.array([r[1] for r, _, _ in items]),
                        feasible=np.array([not r[0] for r, _, _ in items]),
                        best_value_history=history, n_fe_evaluations=n_fe, n_generations=done)
