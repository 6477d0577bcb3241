"""Stochastic perturbation of design-space trusses (paper, Methods / Data generation).

One *iteration* applies one random topological operation (insert a node of a random type and
connect it to nearest neighbours, remove a node, add a strut to a nearest neighbour, remove a
strut) and then re-samples the offsets of a random subset of the active nodes from
``U(-0.5, 0.5)`` on their free axes. An iteration is kept only if the result is valid; otherwise
it is retried (up to ``max_tries``) and, failing that, skipped. A structure is the result of
``n_iterations`` (default 10, as in the paper) iterations on an elementary seed, so it is valid
by construction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from trussvae.design_space import TrussGraph, octant
from trussvae.design_space.validity import DEFAULT_RULES, ValidityRules, check

OPERATIONS = ("insert_node", "remove_node", "add_strut", "remove_strut")


@dataclass(frozen=True)
class PerturbationParams:
    """Parameters of :func:`perturb` (probabilities of the operations, in :data:`OPERATIONS` order)."""

    n_iterations: int = 10
    op_probabilities: tuple[float, float, float, float] = (0.35, 0.2, 0.25, 0.2)
    #: probability that an active movable node gets a fresh offset in an iteration
    move_probability: float = 0.3
    #: an inserted node connects to 1..max_new_struts nearest active nodes
    max_new_struts: int = 3
    max_tries: int = 4
    #: a fresh offset is drawn from U(-offset_range, offset_range) (paper: 0.5, open interval)
    offset_range: float = 0.5

    def __post_init__(self):
        p = np.asarray(self.op_probabilities, dtype=float)
        if p.shape != (4,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise ValueError("op_probabilities must be 4 non-negative numbers summing to 1, "
                             f"got {self.op_probabilities}")
        if not 0 < self.offset_range <= 0.5:
            raise ValueError(f"offset_range must be in (0, 0.5], got {self.offset_range}")
        if self.n_iterations < 0 or self.max_tries < 1 or self.max_new_struts < 1:
            raise ValueError("n_iterations >= 0, max_tries >= 1 and max_new_struts >= 1 are required")


def _fresh_offsets(rng: np.random.Generator, k: int, pos: np.ndarray, params: PerturbationParams) -> None:
    free = octant.FREE_MASK[k]
    # the open interval: resample the (measure-zero) endpoints
    pos[k, free] = 0.5 + rng.uniform(-params.offset_range, params.offset_range, int(free.sum())) * (1 - 1e-9)


def _nearest(pos: np.ndarray, k: int, candidates: np.ndarray, count: int) -> np.ndarray:
    cand = candidates[candidates != k]
    if len(cand) == 0:
        return cand
    d = np.linalg.norm(pos[cand] - pos[k], axis=1)
    return cand[np.argsort(d, kind="stable")[:count]]


def _apply_operation(adj: np.ndarray, pos: np.ndarray, rng: np.random.Generator, params: PerturbationParams) -> str:
    op = OPERATIONS[rng.choice(4, p=params.op_probabilities)]
    active = np.flatnonzero(adj.sum(1) > 1)
    if op == "insert_node":
        inactive = np.flatnonzero(adj.sum(1) == 1)
        if len(inactive) == 0:
            return "noop"
        types = np.unique(octant.NODE_TYPES[inactive])
        t = rng.choice(types)
        k = int(rng.choice(inactive[octant.NODE_TYPES[inactive] == t]))
        _fresh_offsets(rng, k, pos, params)
        for j in _nearest(pos, k, active, int(rng.integers(1, params.max_new_struts + 1))):
            adj[k, j] = adj[j, k] = True
    elif op == "remove_node":
        if len(active) <= 2:
            return "noop"
        k = int(rng.choice(active))
        adj[k, :] = adj[:, k] = False
    elif op == "add_strut":
        if len(active) < 2:
            return "noop"
        k = int(rng.choice(active))
        for j in _nearest(pos, k, active, len(active)):
            if not adj[k, j]:
                adj[k, j] = adj[j, k] = True
                break
    else:  # remove_strut
        i, j = np.nonzero(np.triu(adj, 1))
        if len(i) <= 1:
            return "noop"
        e = int(rng.integers(len(i)))
        adj[i[e], j[e]] = adj[j[e], i[e]] = False
    np.fill_diagonal(adj, True)
    return op


def perturb(graph: TrussGraph, rng: np.random.Generator, params: PerturbationParams = PerturbationParams(),
            rules: ValidityRules = DEFAULT_RULES, stats: Counter | None = None) -> TrussGraph:
    """Apply ``params.n_iterations`` valid random perturbations to ``graph`` (see module doc).

    ``stats`` (optional Counter) receives counts: ``accepted``, ``skipped`` and one
    ``rejected:<rule code>`` per failed try.
    """
    stats = Counter() if stats is None else stats
    adj, pos = graph.adjacency.copy(), graph.positions.copy()
    for _ in range(params.n_iterations):
        for _try in range(params.max_tries):
            new_adj, new_pos = adj.copy(), pos.copy()
            _apply_operation(new_adj, new_pos, rng, params)
            movable = np.flatnonzero((new_adj.sum(1) > 1) & (octant.NODE_TYPES > 0))
            for k in movable[rng.random(len(movable)) < params.move_probability]:
                _fresh_offsets(rng, k, new_pos, params)
            edges = octant.TRIU_PAIRS[new_adj[octant.TRIU_I, octant.TRIU_J]]
            bad = check(edges, new_pos, rules, first_only=True)
            if not bad:
                adj, pos = new_adj, new_pos
                stats["accepted"] += 1
                break
            stats[f"rejected:{bad[0][0]}"] += 1
        else:
            stats["skipped"] += 1
    return TrussGraph(adj, pos)
