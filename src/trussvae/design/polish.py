"""FE polish: refine a candidate by the FE response itself (beyond the paper).

The latent optimisation proposes a topology and offsets; the polish then descends the objective's
loss, computed by FE, with two kinds of moves that both keep the truss valid:

* **offset steps** over the free offsets of the active nodes (at most 27 values), which only accept
  valid, improving steps; offsets stay in ``(-0.5 + margin, 0.5 - margin)``. Two searches
  (``offset_search``): gradient descent, the gradient by central finite differences of the FE
  response (one batch of 2 x n_dof FE runs per step) with a backtracking line search (the default
  for linear objectives, whose response is smooth); or a compass (pattern) search that polls
  +-h along every offset and halves h when no probe improves (the default for curve objectives:
  a buckling load makes the curve loss kinked, where finite-difference gradients mislead; on the
  stiffer-curve target it took a polished design from NRMSE 0.076 to 0.061 where the gradient
  had stalled).
* **topology moves** (``topology_moves=True``): when the offset steps stall (relative
  improvement below ``rel_tol``), every single-strut
  edit of the octant graph (remove one strut; add one strut between two active nodes) that gives a
  valid truss is evaluated by FE in one batch, and the best one is taken if it improves the loss;
  offset steps then resume. A greedy local search over the discrete design space. With
  ``node_moves=True`` (default) the batch also holds the edits that add a node (a two-strut brace, or a
  kink of a strut through an inactive node; see :func:`topology_neighbours`). With
  ``refine_top=k`` the k best edits are each refined by the offset search before one is chosen
  (an edit often pays off only after its offsets adapt).
* **orientation** (``orient=True``): the start's 5 axis permutations are tried first; the
  targets are directional (E22, nu21, compression along e3) and a design may be best turned.

Every design is judged by an :class:`~trussvae.design.evaluate.Evaluator` (FE settings, cache,
feasibility): linear objectives (:class:`~trussvae.design.targets.Objective`) by linear
homogenization, curve objectives (:class:`~trussvae.design.targets.CurveObjective`) by the
nonlinear compression test (the 13-point stress vector). A nonlinear FD step is larger
(``fd_step`` 5e-3 by default) because the path-following solver converges to ``tol=1e-7``.
:class:`PolishConfig` holds the settings a design run uses (``polish:`` in ``conf/design.yaml``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from trussvae.design.evaluate import Evaluator
from trussvae.design_space import TrussGraph, octant

__all__ = ["polish", "PolishConfig", "PolishResult", "topology_neighbours"]

OFFSET_SEARCHES = ("auto", "gradient", "pattern")


@dataclass(frozen=True)
class PolishConfig:
    """The polish stage of a design run (``polish:`` in ``conf/design.yaml``)."""

    #: polish the best ``top`` candidates (0 = off)
    top: int = 0
    #: accepted moves per candidate (offset steps + topology moves)
    steps: int = 20
    #: also try single-strut edits (greedy topology search)
    topology: bool = True
    #: the topology moves also add a node (a brace of two struts, or a kink through it)
    nodes: bool = True
    #: offset search: auto (gradient for linear, pattern for curve targets) | gradient | pattern
    offsets: str = "auto"
    #: refine the offsets of the k best topology edits before choosing one (1: the best raw edit)
    refine_top: int = 1
    #: first try the 5 axis permutations of each candidate
    orient: bool = False

    def __post_init__(self):
        for name in ("top", "steps"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"polish.{name} must be >= 0, got {getattr(self, name)}")
        if int(self.refine_top) < 1:
            raise ValueError(f"polish.refine_top must be >= 1, got {self.refine_top}")
        if self.offsets not in OFFSET_SEARCHES:
            raise ValueError(f"polish.offsets must be one of {OFFSET_SEARCHES}, got {self.offsets!r}")

    def kwargs(self) -> dict:
        """The keyword arguments of :func:`polish` these settings stand for."""
        return {"n_steps": self.steps, "topology_moves": self.topology, "node_moves": self.nodes,
                "offset_search": self.offsets, "refine_top": self.refine_top, "orient": self.orient}


@dataclass
class PolishResult:
    graph: TrussGraph
    #: FE properties of ``graph``: (6, 6) stiffness (linear objectives) or (13,) stresses (curves)
    props: np.ndarray
    loss_history: list[float] = field(default_factory=list)
    value_history: list[float] = field(default_factory=list)
    n_fe_evaluations: int = 0
    n_offset_steps: int = 0
    n_topology_moves: int = 0


def topology_neighbours(graph: TrussGraph, node_moves: bool = False, n_near: int = 6) -> list[TrussGraph]:
    """Every valid truss one edit away from ``graph``, with the same node offsets.

    Single-strut edits (always): remove a strut, or add one between two active nodes.
    Node edits (``node_moves``; they add a node, which a single strut edit cannot):

    * *brace*: connect an inactive template node to two of its ``n_near`` nearest active nodes;
    * *kink*: replace a strut (i, j) by (i, k) and (k, j) through one of the 3 inactive nodes
      nearest the strut's midpoint (the node's offsets then become free for the offset steps).
    """
    adj0 = graph.adjacency
    offsets = graph.offsets
    active = np.flatnonzero(graph.active)
    edits = [[(int(i), int(j))] for i, j in graph.edges]
    edits += [[(int(i), int(j))] for a, i in enumerate(active) for j in active[a + 1:] if not adj0[i, j]]
    if node_moves and len(active):
        pos = graph.positions
        inactive = np.flatnonzero(~graph.active)
        for k in inactive:
            near = active[np.argsort(np.linalg.norm(pos[active] - pos[k], axis=1), kind="stable")[:n_near]]
            edits += [[(int(k), int(a)), (int(k), int(b))] for x, a in enumerate(near) for b in near[x + 1:]]
        if len(inactive):
            for i, j in graph.edges:
                mid = 0.5 * (pos[i] + pos[j])
                for k in inactive[np.argsort(np.linalg.norm(pos[inactive] - mid, axis=1), kind="stable")[:3]]:
                    edits.append([(int(i), int(j)), (int(i), int(k)), (int(k), int(j))])
    out = []
    for edit in edits:
        adj = adj0.copy()
        for i, j in edit:
            adj[i, j] = adj[j, i] = not adj0[i, j]
        g = TrussGraph.from_offsets(adj, offsets)
        if g.n_struts and g.is_valid():
            out.append(g)
    return out


def polish(graph: TrussGraph, objective, fe=None, n_steps: int = 20, fd_step: float | None = None,
           initial_step: float = 0.05, margin: float = 1e-3, topology_moves: bool = True,
           node_moves: bool = True, rel_tol: float = 1e-3, n_jobs: int = 1, offset_search: str = "auto",
           refine_top: int = 1, orient: bool = False) -> PolishResult:
    """Refine ``graph`` for ``objective`` by FE (see the module doc); at most ``n_steps`` accepted
    moves (offset steps + topology moves); the offsets count as stalled (and a topology edit is tried)
    when a step improves the loss by less than ``rel_tol`` (relative). A start that satisfies the
    objective's constraints stays feasible: infeasible moves are rejected, not just penalised.

    ``offset_search``: ``"gradient"`` (FD gradient + line search), ``"pattern"`` (compass search:
    probe +-h along every free offset, take the best improving probe, halve h from
    ``initial_step`` down to ``fd_step`` when none improves; robust where the response has kinks,
    as buckling makes the curve loss) or ``"auto"`` (gradient for linear, pattern for curve
    objectives). ``refine_top``: a topology edit is judged after refining the offsets of the
    ``refine_top`` best edits (by the loss at unchanged offsets) with the offset search; 1 keeps
    the best raw edit only. ``orient``: first try the 5 axis permutations of the start
    (:meth:`~trussvae.design_space.TrussGraph.permute_axes`) and keep the best orientation.
    ``objective``: the objective, or an :class:`~trussvae.design.evaluate.Evaluator` of it (its FE
    settings and cache); ``fe``: FE settings for a bare objective (default: those of the
    objective's kind); ``n_jobs``: FE worker processes for a bare objective. ``n_fe_evaluations``
    counts the FE analyses run (designs already in the evaluator's cache cost none)."""
    ev = Evaluator.of(objective, fe, n_jobs)
    objective = ev.objective
    if fd_step is None:
        fd_step = 1e-3 if objective.kind == "linear" else 5e-3
    if offset_search == "auto":
        offset_search = "gradient" if objective.kind == "linear" else "pattern"
    if offset_search not in ("gradient", "pattern"):
        raise ValueError(f"polish: offset_search must be auto, gradient or pattern, got {offset_search!r}")
    bound = 0.5 - margin

    def evaluate(graphs):
        e = ev.evaluate(graphs)
        res.n_fe_evaluations += e.n_fe
        loss = e.loss.copy()
        if keep_feasible:  # a feasible start stays feasible (the penalty alone may trade it away)
            loss[~e.feasible] = np.inf
        return loss, e.props

    first = ev.evaluate([graph])
    if not np.isfinite(first.loss[0]):
        raise ValueError("polish: the starting truss is invalid or its FE analysis failed")
    keep_feasible = bool(first.feasible[0])
    P0 = first.props
    res = PolishResult(graph, P0[0], [float(first.loss[0])], [float(objective.value(P0[0]))], first.n_fe)

    def accept(g, loss, props):
        res.graph, res.props = g, props
        res.loss_history.append(float(loss))
        res.value_history.append(float(objective.value(props)))

    if orient:
        turned = [graph.permute_axes(p) for p in itertools.permutations(range(3))][1:]
        loss, props = evaluate(turned)
        k = int(np.argmin(loss))
        if loss[k] < res.loss_history[-1]:
            accept(turned[k], loss[k], props[k])

    def budget():
        return n_steps - res.n_offset_steps - res.n_topology_moves

    def refine(sub: PolishResult, take, limit: int, step: float):
        """Offset search on ``sub.graph`` (``take`` records an accepted step) until it stalls or
        ``limit`` steps are accepted; returns (steps taken, next step size, why it stopped:
        ``"budget"``, ``"slow"`` (a step improved by less than ``rel_tol``) or ``"stuck"``)."""
        taken = 0
        while taken < limit:
            before = sub.loss_history[-1]
            if offset_search == "pattern":
                if step < fd_step:  # the compass mesh is converged
                    return taken, step, "stuck"
                if not _pattern_poll(sub, evaluate, take, bound, step):
                    step *= 0.5
                    continue
                taken += 1
                if before - sub.loss_history[-1] <= rel_tol * abs(before):
                    step *= 0.5
                continue
            used = _offset_step(sub, evaluate, take, fd_step, bound, step)
            if not used:
                return taken, step, "stuck"
            taken += 1
            step = used * 1.5
            if before - sub.loss_history[-1] <= rel_tol * abs(before):
                return taken, step, "slow"
        return taken, step, "budget"

    def recorder(sub: PolishResult):
        def take(g, loss, props):
            sub.graph, sub.props = g, props
            sub.loss_history.append(float(loss))
        return take

    step = initial_step
    while budget() > 0:
        taken, step, why = refine(res, accept, budget(), step)
        res.n_offset_steps += taken
        if why == "budget":
            break
        # the offsets have stalled: try the best topology edit(s), even if that was the last step
        nbrs = topology_neighbours(res.graph, node_moves) if topology_moves else []
        if nbrs:
            loss, props = evaluate(nbrs)
            best, best_taken = None, 0
            for k in np.argsort(loss, kind="stable")[:max(1, int(refine_top))]:
                if not np.isfinite(loss[k]):
                    break
                sub = PolishResult(nbrs[k], props[k], [float(loss[k])])
                sub_taken = refine(sub, recorder(sub), max(budget() - 1, 0), initial_step)[0] if refine_top > 1 else 0
                if best is None or sub.loss_history[-1] < best.loss_history[-1]:
                    best, best_taken = sub, sub_taken
            if best is not None and best.loss_history[-1] < res.loss_history[-1]:
                accept(best.graph, best.loss_history[-1], best.props)
                res.n_topology_moves += 1
                res.n_offset_steps += best_taken
                step = initial_step
                continue
        if why == "stuck":
            break
    return res


def _pattern_poll(res: PolishResult, evaluate, accept, bound: float, step: float) -> bool:
    """One compass poll: probe +-``step`` along every free offset of ``res.graph``, accept the best
    probe if it improves the loss; returns whether it did."""
    graph = res.graph
    dofs = np.flatnonzero(graph.active[octant.DOF_INDEX[:, 0]])
    if len(dofs) == 0:
        return False
    x = graph.offsets
    probes = []
    for d in dofs:
        for s in (+1, -1):
            y = x.copy()
            y[d] = np.clip(y[d] + s * step, -bound, bound)
            probes.append(TrussGraph.from_offsets(graph.adjacency, y))
    loss, props = evaluate(probes)
    k = int(np.argmin(loss))
    if loss[k] < res.loss_history[-1]:
        accept(probes[k], loss[k], props[k])
        return True
    return False


def _offset_step(res: PolishResult, evaluate, accept, fd_step: float, bound: float, step: float) -> float:
    """One FD-gradient step with backtracking on the offsets of ``res.graph``; returns the accepted
    step length (0.0 if no step improved the loss)."""
    graph = res.graph
    dofs = np.flatnonzero(graph.active[octant.DOF_INDEX[:, 0]])
    if len(dofs) == 0:
        return 0.0
    x = graph.offsets.copy()

    def make(offsets):
        return TrussGraph.from_offsets(graph.adjacency, np.clip(offsets, -bound, bound))

    probes = []
    for d in dofs:
        for s in (+1, -1):
            y = x.copy()
            y[d] += s * fd_step
            probes.append(make(y))
    lp, _ = evaluate(probes)
    lp = lp.reshape(-1, 2)
    grad = np.where(np.isfinite(lp).all(1), (lp[:, 0] - lp[:, 1]) / (2 * fd_step), 0.0)
    norm = np.linalg.norm(grad)
    if not norm > 0:
        return 0.0
    while step > 1e-4:
        y = x.copy()
        y[dofs] -= step * grad / norm
        cand = make(y)
        lc, Pc = evaluate([cand])
        if lc[0] < res.loss_history[-1]:
            accept(cand, lc[0], Pc[0])
            return step
        step *= 0.5
    return 0.0
