"""Gradient-based inverse design in the latent space, every candidate verified by FE.

The paper's method (Fig. 2b, "Gradient-based optimization"):

1. evaluate the objective on every training structure (FE labels) and start from the
   ``n_starts`` (100) best;
2. optimise all starts in parallel with Adam on z, through decode -> threshold -> encode ->
   predictor: the adjacency is thresholded in the forward pass (straight-through gradient of the
   sigmoid), so the predictor sees the latent of the truss that would actually be built;
3. keep the path; decode every ``eval_every`` steps and collect the distinct trusses;
4. homogenize every collected truss by FE (repaired first if it is invalid) and rank by the FE
   objective, not the predictor's; optionally polish the best by FE gradients
   (:mod:`trussvae.design.polish`) and evolve a population seeded by all verified candidates
   by FE (:mod:`trussvae.design.evolve`).

Each candidate's ``predicted_value`` is the predictor's value at its final truss (after the
polish or the evolution, not at the decoded start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from trussvae.design_space import TrussGraph
from trussvae.fem.elasticity import ORTHOTROPIC_INDEX as _ORTHO_IDX  # the order of ORTHOTROPIC_NAMES

log = logging.getLogger(__name__)

__all__ = ["InverseDesignConfig", "Candidate", "DesignResult", "run_inverse_design", "orthotropic_to_voigt"]


def orthotropic_to_voigt(v: torch.Tensor) -> torch.Tensor:
    """(B, 9) orthotropic components (order ``ORTHOTROPIC_NAMES``) -> (B, 6, 6) Voigt stiffness, differentiable."""
    C = v.new_zeros(v.shape[:-1] + (6, 6))
    for k, (a, b) in enumerate(_ORTHO_IDX):
        C[..., a, b] = v[..., k]
        C[..., b, a] = v[..., k]
    return C


@dataclass(frozen=True)
class InverseDesignConfig:
    n_starts: int = 100
    n_steps: int = 200
    lr: float = 0.05
    eval_every: int = 10
    threshold: float = 0.5
    #: weight of 0.5 |z|^2 (keeps z where the decoder was trained)
    prior_weight: float = 1e-3
    repair: bool = True
    polish_top: int = 0
    polish_steps: int = 20
    #: also try single-strut edits in the polish (greedy topology search, see design.polish)
    polish_topology: bool = True
    #: the topology moves also add a node (a brace of two struts, or a kink through it)
    polish_nodes: bool = True
    #: offset search of the polish: auto (gradient for linear, pattern for curve targets) | gradient | pattern
    polish_offsets: str = "auto"
    #: refine the offsets of the k best topology edits before choosing one (1: the best raw edit)
    polish_refine_top: int = 1
    #: the polish first tries the 5 axis permutations of each candidate
    polish_orient: bool = False
    #: worker processes of the FE verification and polish batches (curve targets gain most)
    fe_jobs: int = 1
    #: generations of the FE-driven evolutionary search after the polish (0 = off; see design.evolve)
    evolve_generations: int = 0
    evolve_population: int = 60
    evolve_offspring: int = 48
    #: seconds; the evolution stops after the first generation that ends past it (None: no limit)
    evolve_time_limit: float | None = None
    seed: int = 0


@dataclass
class Candidate:
    """A verified design. ``fe_props``: the FE (6, 6) stiffness (linear targets) or the 13-point
    stress vector (curve targets)."""

    graph: TrussGraph
    fe_props: np.ndarray
    fe_value: float
    predicted_value: float
    feasible: bool
    start: int
    step: int
    repaired: bool
    polished_from: float | None = None
    #: "latent" (decoded from the latent optimisation, maybe polished) or "evolve" (found by the evolution)
    origin: str = "latent"


@dataclass
class DesignResult:
    objective: object  # Objective | CurveObjective
    candidates: list[Candidate]
    best_training_value: float
    training_values: np.ndarray
    start_indices: np.ndarray
    predicted_path: np.ndarray  # (n_steps + 1, n_starts) predicted objective value
    fe_path: list = field(default_factory=list)  # (step, start, fe_value) of verified decodes
    predicted_props: np.ndarray | None = None  # (n_steps + 1, n_starts, ...) predicted properties
    #: the evolution's record (generations, FE runs, best value per generation) or None when off
    evolution: dict | None = None


def _predict_props(model, objective, adj, offsets):
    """Predicted properties of the trusses (adj, offsets): (B, 6, 6) stiffness or (B, 13) curve."""
    mu, _ = model.encode(adj, offsets)
    y = model.denormalise(model.predict(mu))
    return orthotropic_to_voigt(y) if objective.kind == "linear" else y


def _fe_props(graphs, objective, fe, n_jobs: int = 1) -> np.ndarray:
    """FE properties of valid trusses (NaN where FE fails): linear stiffness or compression curve."""
    frames = [g.to_frame(relative_density=fe.relative_density) for g in graphs]
    if objective.kind == "linear":
        from trussvae.fem import homogenize_many

        return homogenize_many(frames, E_s=fe.E_s, nu_s=fe.nu_s, beam=fe.beam, errors="nan", n_jobs=n_jobs)
    from trussvae.fem.nonlinear import compression_labels

    stress, ok, _ = compression_labels(frames, E_s=fe.E_s, nu_s=fe.nu_s, beam=fe.beam, n_jobs=n_jobs)
    return np.where(np.asarray(ok)[:, None], stress, np.nan)


def _training_values(objective, props: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        value = np.asarray(objective.value(props), dtype=float)
        loss = np.asarray(objective.loss(props), dtype=float)
        feasible = np.asarray(objective.feasible(props)) & np.isfinite(value)
    return value, np.where(feasible, loss, np.inf)


def run_inverse_design(model, objective, adjacency: np.ndarray, offsets: np.ndarray, train_props: np.ndarray,
                       cfg: InverseDesignConfig = InverseDesignConfig(), fe=None,
                       progress: bool = True) -> DesignResult:
    """Inverse design from the training set (``adjacency`` (N,351), ``offsets`` (N,27), FE
    ``train_props``: stiffness (N,6,6) for linear objectives, stress curves (N,13) for curve
    objectives). Returns the FE-ranked candidates (best first) and the paths."""
    from tqdm.auto import tqdm

    from trussvae.fem.settings import LinearFESettings

    wanted = "linear" if objective.kind == "linear" else "nonlinear"
    if model.target != wanted:
        raise ValueError(f"target {objective.name!r} needs a model trained with data.target={wanted}; "
                         f"this checkpoint predicts {model.target!r} properties")
    fe = fe or LinearFESettings()
    torch.manual_seed(cfg.seed)
    model.eval()
    values, losses = _training_values(objective, train_props)
    if not np.isfinite(losses).any():
        raise ValueError(f"no training structure satisfies the constraints of {objective.name!r}")
    order = np.argsort(losses, kind="stable")
    starts = order[: min(cfg.n_starts, int(np.isfinite(losses).sum()))]
    best_train = float(values[order[0]])
    dev = model.device
    adj0 = torch.as_tensor(adjacency[starts], dtype=torch.float32, device=dev)
    off0 = torch.as_tensor(offsets[starts], dtype=torch.float32, device=dev)
    with torch.no_grad():
        z0, _ = model.encode(adj0, off0)
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.lr)
    path, path_props, found = [], [], {}
    for p in model.parameters():
        p.requires_grad_(False)
    for step in tqdm(range(cfg.n_steps + 1), desc=f"latent optimisation ({objective.name})", disable=not progress):
        prob, off = model.decode(z)
        hard = (prob > cfg.threshold).float()
        adj = hard + prob - prob.detach()  # straight-through
        props = _predict_props(model, objective, adj, off)
        loss_each = objective.loss(props)
        path.append(objective.value(props).detach().cpu().numpy())
        path_props.append(props.detach().cpu().numpy())
        if step % cfg.eval_every == 0 or step == cfg.n_steps:
            for s, g in enumerate(model.decode_graphs(z.detach(), cfg.threshold)):
                found.setdefault(g.canonical_hash(), (g, s, step))
        if step == cfg.n_steps:
            break
        opt.zero_grad()
        (loss_each.sum() + cfg.prior_weight * 0.5 * (z**2).sum()).backward()
        opt.step()
    for p in model.parameters():
        p.requires_grad_(True)
    candidates, fe_path = _verify(model, objective, list(found.values()), cfg, fe)
    if cfg.polish_top > 0:
        candidates = _polish(model, candidates, objective, cfg, fe)
    evolution = None
    if cfg.evolve_generations > 0:
        candidates, evolution = _evolve(model, candidates, objective, cfg, fe)
    return DesignResult(objective, candidates, best_train, values, starts, np.array(path), fe_path,
                        np.array(path_props), evolution)


def _predicted_values(model, objective, graphs) -> np.ndarray:
    """The predictor's objective value at each truss of ``graphs``."""
    if not graphs:
        return np.zeros(0)
    arrays = [g.to_vae_input("offsets") for g in graphs]
    with torch.no_grad():
        props = _predict_props(model, objective,
                               torch.as_tensor(np.array([a for a, _ in arrays])).to(model.device),
                               torch.as_tensor(np.array([o for _, o in arrays])).to(model.device)).cpu().numpy()
    return np.array([float(objective.value(p)) for p in props])


def _rank(candidates, objective) -> None:
    """Sort in place: feasible first, then by the FE loss."""
    candidates.sort(key=lambda k: (not k.feasible, float(objective.loss(k.fe_props))))


def _verify(model, objective, found, cfg, fe):
    from trussvae.models.repair import repair

    graphs, meta = [], []
    seen = set()
    for g, s, step in found:
        fixed = False
        if not g.is_valid():
            if not cfg.repair:
                continue
            g, fixed = repair(g), True
            if not g.is_valid():
                continue
        h = g.canonical_hash()
        if h in seen:
            continue
        seen.add(h)
        graphs.append(g)
        meta.append((s, step, fixed))
    if not graphs:
        raise RuntimeError("no decoded candidate is a valid truss (even after repair); train the model longer")
    P = _fe_props(graphs, objective, fe, cfg.fe_jobs)
    predicted = _predicted_values(model, objective, graphs)
    out, fe_path = [], []
    for g, p, pv, (s, step, fixed) in zip(graphs, P, predicted, meta):
        if not np.all(np.isfinite(p)):
            continue
        v = float(objective.value(p))
        fe_path.append((step, s, v))
        out.append(Candidate(g, p, v, float(pv), bool(objective.feasible(p)), s, step, fixed))
    _rank(out, objective)
    return out, fe_path


def _polish(model, candidates, objective, cfg, fe):
    from trussvae.design.polish import polish

    for k in candidates[: cfg.polish_top]:
        res = polish(k.graph, objective, fe, n_steps=cfg.polish_steps, topology_moves=cfg.polish_topology,
                     node_moves=cfg.polish_nodes, n_jobs=cfg.fe_jobs, offset_search=cfg.polish_offsets,
                     refine_top=cfg.polish_refine_top, orient=cfg.polish_orient)
        log.info("polish %s: %.5g -> %.5g (%d offset steps, %d topology moves, %d FE runs)", objective.name,
                 res.value_history[0], res.value_history[-1], res.n_offset_steps, res.n_topology_moves,
                 res.n_fe_evaluations)
        if res.loss_history[-1] < res.loss_history[0]:
            k.polished_from = k.fe_value
            k.graph, k.fe_props = res.graph, res.props
            k.fe_value = float(objective.value(res.props))
            k.feasible = bool(objective.feasible(res.props))
            k.predicted_value = float(_predicted_values(model, objective, [k.graph])[0])
    _rank(candidates, objective)
    return candidates


def _evolve(model, candidates, objective, cfg, fe):
    """The evolution seeded by every verified candidate; its final population's new designs join
    the candidates (``origin="evolve"``, ``start = step = -1``)."""
    from trussvae.design.evolve import _key, evolve

    res = evolve([k.graph for k in candidates], objective, fe, generations=cfg.evolve_generations,
                 population=cfg.evolve_population, offspring=cfg.evolve_offspring, seed=cfg.seed,
                 n_jobs=cfg.fe_jobs, time_limit=cfg.evolve_time_limit,
                 seed_props=np.array([k.fe_props for k in candidates]))
    known = {_key(k.graph) for k in candidates}
    new = [(g, p, bool(f)) for g, p, f in zip(res.graphs, res.props, res.feasible) if _key(g) not in known]
    predicted = _predicted_values(model, objective, [g for g, _, _ in new])
    for (g, p, f), pv in zip(new, predicted):
        candidates.append(Candidate(g, p, float(objective.value(p)), float(pv), f, -1, -1, False, origin="evolve"))
    _rank(candidates, objective)
    record = {"generations": res.n_generations, "fe_evaluations": res.n_fe_evaluations,
              "seed_best_value": res.best_value_history[0], "best_value": res.best_value_history[-1],
              "best_value_history": res.best_value_history, "new_candidates": len(new)}
    log.info("evolve %s: %.5g -> %.5g (%d generations, %d FE runs, %d new designs)", objective.name,
             record["seed_best_value"], record["best_value"], res.n_generations, res.n_fe_evaluations, len(new))
    return candidates, record

