"""FE polish: refine the continuous node offsets of a candidate by gradients of the FE response.

Beyond the paper: the latent optimisation proposes a topology and offsets; the polish keeps the
topology and descends ``objective.loss(C_FE)`` over the free offsets of the active nodes (at
most 27 values), with central finite differences of the exact FE homogenization (one batched
:func:`~trussvae.fem.homogenize_many` call of 2 x n_dof frames per step) and a backtracking line
search that only accepts valid, improving steps. Offsets stay in ``(-0.5 + margin, 0.5 - margin)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trussvae.design.targets import Objective
from trussvae.design_space import TrussGraph, octant

__all__ = ["polish", "PolishResult"]


@dataclass
class PolishResult:
    graph: TrussGraph
    stiffness: np.ndarray
    loss_history: list[float] = field(default_factory=list)
    value_history: list[float] = field(default_factory=list)
    n_fe_evaluations: int = 0


def _evaluate(graphs, objective, fe):
    from trussvae.fem import homogenize_many

    frames, idx = [], []
    for k, g in enumerate(graphs):
        if g is not None and g.is_valid():
            frames.append(g.to_frame(relative_density=fe.relative_density))
            idx.append(k)
    loss = np.full(len(graphs), np.inf)
    Cs = np.full((len(graphs), 6, 6), np.nan)
    if frames:
        C = homogenize_many(frames, E_s=fe.E_s, nu_s=fe.nu_s, beam=fe.beam, errors="nan")
        for k, c in zip(idx, C):
            if np.all(np.isfinite(c)):
                Cs[k] = c
                loss[k] = float(objective.loss(c))
    return loss, Cs, len(frames)


def polish(graph: TrussGraph, objective: Objective, fe=None, n_steps: int = 20, fd_step: float = 1e-3,
           initial_step: float = 0.05, margin: float = 1e-3) -> PolishResult:
    """Refine the offsets of ``graph`` for ``objective`` (see module doc). ``fe``: LinearFESettings."""
    from trussvae.generation.label import LinearFESettings

    fe = fe or LinearFESettings()
    active_dof = graph.active[octant.DOF_INDEX[:, 0]]
    dofs = np.flatnonzero(active_dof)
    x = graph.offsets.copy()
    bound = 0.5 - margin

    def make(offsets):
        return TrussGraph.from_offsets(graph.adjacency, np.clip(offsets, -bound, bound))

    loss, C, n_eval = _evaluate([graph], objective, fe)
    if not np.isfinite(loss[0]):
        raise ValueError("polish: the starting truss is invalid or a mechanism")
    res = PolishResult(graph, C[0], [float(loss[0])], [float(objective.value(C[0]))], n_eval)
    step = initial_step
    for _ in range(n_steps):
        if len(dofs) == 0:
            break
        probes = []
        for d in dofs:
            for s in (+1, -1):
                y = x.copy()
                y[d] += s * fd_step
                probes.append(make(y))
        lp, _, n = _evaluate(probes, objective, fe)
        res.n_fe_evaluations += n
        lp = lp.reshape(-1, 2)
        grad = np.where(np.isfinite(lp).all(1), (lp[:, 0] - lp[:, 1]) / (2 * fd_step), 0.0)
        norm = np.linalg.norm(grad)
        if norm == 0:
            break
        improved = False
        while step > 1e-4:
            y = x.copy()
            y[dofs] -= step * grad / norm
            cand = make(y)
            lc, Cc, n = _evaluate([cand], objective, fe)
            res.n_fe_evaluations += n
            if lc[0] < res.loss_history[-1]:
                x, res.graph, res.stiffness = np.clip(y, -bound, bound), cand, Cc[0]
                res.loss_history.append(float(lc[0]))
                res.value_history.append(float(objective.value(Cc[0])))
                step *= 1.5
                improved = True
                break
            step *= 0.5
        if not improved:
            break
    return res
