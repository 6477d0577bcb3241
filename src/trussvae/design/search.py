"""The latent search: gradient-based optimisation in the VAE's latent space, then FE verification.

The paper's method (Fig. 2b, "Gradient-based optimization"):

1. evaluate the objective on every training structure (FE labels) and start from the
   ``n_starts`` (100) best, ranked by :func:`~trussvae.design.evaluate.rank_key`;
2. optimise all starts in parallel with Adam on z, through decode -> threshold -> encode ->
   predictor: the adjacency is thresholded in the forward pass (straight-through gradient of the
   sigmoid), so the predictor sees the latent of the truss that would actually be built.
   For a model with a physics input (``model.physics=ritz``) the chain's *values* use the physics
   features of each decode, which an FE kernel computes (constants for autograd), so the gradient is
   taken through the same chain with the model's latent-only head (``predict_latent``, a
   straight-through estimator: the value of one, the gradient of the other); models without one
   (the plain model) are unchanged. ``gradient="latent"`` instead takes the gradient of
   ``predict_latent`` at the latent point itself (docs/design.md: both measured);
3. keep the path; decode every ``eval_every`` steps and collect the distinct trusses;
4. :func:`verify`: FE-evaluate every collected truss (repaired first if it is invalid) with the
   :class:`~trussvae.design.evaluate.Evaluator` and rank by the FE objective, not the predictor's.

The model is any ``torch.nn.Module`` with ``encode``, ``decode``, ``decode_graphs``, ``predict``,
``denormalise``, ``latent_dim``, ``target`` and ``device`` (the network of
:mod:`trussvae.models`); nothing else of it is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from trussvae.design.evaluate import Evaluator, design_id, label_kind
from trussvae.design_space import TrussGraph
from trussvae.fem.elasticity import ORTHOTROPIC_INDEX  # the order of ORTHOTROPIC_NAMES

log = logging.getLogger(__name__)

#: values of ``search.gradient``
SEARCH_GRADIENTS = ("chain", "latent")

__all__ = ["SEARCH_GRADIENTS", "SearchConfig", "SearchResult", "Candidate", "latent_search", "verify", "predict_props",
           "predicted_properties", "predicted_values", "orthotropic_to_voigt", "rank_candidates", "check_model"]


def orthotropic_to_voigt(v: torch.Tensor) -> torch.Tensor:
    """(B, 9) orthotropic components (order ``ORTHOTROPIC_NAMES``) -> (B, 6, 6) Voigt stiffness, differentiable."""
    C = v.new_zeros(v.shape[:-1] + (6, 6))
    for k, (a, b) in enumerate(ORTHOTROPIC_INDEX):
        C[..., a, b] = v[..., k]
        C[..., b, a] = v[..., k]
    return C


@dataclass(frozen=True)
class SearchConfig:
    """The latent search of a design run (``search:`` in ``conf/design.yaml``)."""

    #: paper: the 100 training structures closest to the target
    n_starts: int = 100
    n_steps: int = 200
    lr: float = 0.05
    #: decode (and later FE-verify) the trusses along the path every k steps
    eval_every: int = 10
    threshold: float = 0.5
    #: weight of 0.5 |z|^2 (keeps z where the decoder was trained)
    prior_weight: float = 1e-3
    #: light repair of invalid decodes (:func:`trussvae.design_space.repair.repair`)
    repair: bool = True
    #: "chain" (the paper's: through decode -> threshold -> encode -> predict, with the latent-only
    #: head of a physics model) or "latent" (the chain's values, the gradient of predict_latent at z)
    gradient: str = "chain"

    def __post_init__(self):
        for name in ("n_starts", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"search.{name} must be >= 1, got {getattr(self, name)}")
        if int(self.n_steps) < 0:
            raise ValueError(f"search.n_steps must be >= 0, got {self.n_steps}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"search.threshold must be in (0, 1), got {self.threshold}")
        if self.gradient not in SEARCH_GRADIENTS:
            raise ValueError(f"search.gradient must be one of {list(SEARCH_GRADIENTS)}, got {self.gradient!r}")


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
class SearchResult:
    """The latent optimisation: its starts and paths, and the distinct decoded trusses."""

    best_training_value: float
    training_values: np.ndarray
    start_indices: np.ndarray
    predicted_path: np.ndarray  # (n_steps + 1, n_starts) predicted objective value
    predicted_props: np.ndarray  # (n_steps + 1, n_starts, ...) predicted properties
    #: (graph, start, step) of every distinct decode (by canonical hash), in the order found
    found: list


def check_model(model, objective) -> None:
    """Refuse a model that predicts other properties than the objective needs."""
    wanted = label_kind(objective)
    if model.target != wanted:
        raise ValueError(f"target {objective.name!r} needs a model trained with data.target={wanted}; "
                         f"this checkpoint predicts {model.target!r} properties")


def _props(model, objective, y_norm):
    """Normalised predictions -> (B, 6, 6) stiffness (linear targets) or the (B, 13) curve."""
    y = model.denormalise(y_norm)
    return orthotropic_to_voigt(y) if objective.kind == "linear" else y


def _chain_props(model, objective, adj, offsets):
    """Latent means of the trusses (adj, offsets) and their predicted properties (with the structures'
    own physics features, if the model has them)."""
    mu, y_norm = model.predict_inputs(adj, offsets)
    return mu, _props(model, objective, y_norm)


def predict_props(model, objective, adj, offsets):
    """Predicted properties of the trusses (adj, offsets): (B, 6, 6) stiffness or (B, 13) curve."""
    return _chain_props(model, objective, adj, offsets)[1]


def _latent_props(model, objective, mu):
    """Properties predicted from latents alone (``predict_latent``; the model's predictor without one)."""
    return _props(model, objective, getattr(model, "predict_latent", model.predict)(mu))


def _straight_through(value: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """The value of ``value`` with the gradient of ``gradient``."""
    return value.detach() + gradient - gradient.detach()


def predicted_properties(model, objective, graphs) -> np.ndarray:
    """The predictor's properties at each truss of ``graphs``: (B, 6, 6) stiffness or (B, 13) curve."""
    if not graphs:
        return np.zeros((0, 6, 6) if objective.kind == "linear" else (0, 13))
    arrays = [g.to_vae_input("offsets") for g in graphs]
    with torch.no_grad():
        return predict_props(model, objective,
                             torch.as_tensor(np.array([a for a, _ in arrays])).to(model.device),
                             torch.as_tensor(np.array([o for _, o in arrays])).to(model.device)).cpu().numpy()


def predicted_values(model, objective, graphs) -> np.ndarray:
    """The predictor's objective value at each truss of ``graphs``."""
    if not graphs:
        return np.zeros(0)
    return np.array([float(objective.value(p)) for p in predicted_properties(model, objective, graphs)])


def latent_search(model, evaluator: Evaluator, adjacency: np.ndarray, offsets: np.ndarray, train_props: np.ndarray,
                  cfg: SearchConfig = SearchConfig(), seed: int = 0, progress: bool = True) -> SearchResult:
    """Optimise latent points from the best training structures (``adjacency`` (N, 351),
    ``offsets`` (N, 27), FE ``train_props``: (N, 6, 6) or (N, 13)) for ``evaluator.objective``
    (steps 1-3 of the module doc); ``seed`` seeds torch."""
    from tqdm.auto import tqdm

    objective = evaluator.objective
    check_model(model, objective)
    torch.manual_seed(seed)
    model.eval()
    train = evaluator.score(train_props)
    with np.errstate(all="ignore"):
        values = np.asarray(objective.value(train_props), dtype=float)
    n_ok = int(train.feasible.sum())
    if n_ok == 0:
        raise ValueError(f"no training structure satisfies the constraints of {objective.name!r}")
    order = np.lexsort((train.loss, ~train.feasible))  # = sorted by rank_key, stable
    starts = order[: min(cfg.n_starts, n_ok)]
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
        mu, props = _chain_props(model, objective, adj, off)
        if cfg.gradient == "latent":  # the chain's value, the latent head's gradient at z (straight-through)
            props = _straight_through(props, _latent_props(model, objective, z))
        elif getattr(model, "latent_predictor", None) is not None:  # the same chain through the latent head
            props = _straight_through(props, _latent_props(model, objective, mu))
        loss_each = objective.loss(props)
        path.append(objective.value(props).detach().cpu().numpy())
        path_props.append(props.detach().cpu().numpy())
        if step % cfg.eval_every == 0 or step == cfg.n_steps:
            for s, g in enumerate(model.decode_graphs(z.detach(), cfg.threshold)):
                found.setdefault(design_id(g), (g, s, step))
        if step == cfg.n_steps:
            break
        opt.zero_grad()
        (loss_each.sum() + cfg.prior_weight * 0.5 * (z**2).sum()).backward()
        opt.step()
    for p in model.parameters():
        p.requires_grad_(True)
    return SearchResult(float(values[order[0]]), values, starts, np.array(path), np.array(path_props),
                        list(found.values()))


def rank_candidates(candidates: list[Candidate], evaluator: Evaluator) -> None:
    """Sort in place by :func:`~trussvae.design.evaluate.rank_key` (feasible first, then FE loss)."""
    ev = evaluator.score(np.array([k.fe_props for k in candidates])) if candidates else None
    keys = ev.rank_keys() if ev is not None else []
    order = sorted(range(len(candidates)), key=keys.__getitem__)
    candidates[:] = [candidates[i] for i in order]


def verify(model, evaluator: Evaluator, found, repair: bool = True) -> tuple[list[Candidate], list]:
    """FE-verify the decodes ``found`` ((graph, start, step) triples): invalid ones are repaired
    (``repair``) or dropped, duplicates (same design) dropped, failed FE analyses dropped.
    Returns the candidates ranked best first, and the (step, start, FE value) of each."""
    from trussvae.design_space.repair import repair as repair_graph

    objective = evaluator.objective
    graphs, meta = [], []
    seen = set()
    for g, s, step in found:
        fixed = False
        if not g.is_valid():
            if not repair:
                continue
            g, fixed = repair_graph(g), True
            if not g.is_valid():
                continue
        h = design_id(g)
        if h in seen:
            continue
        seen.add(h)
        graphs.append(g)
        meta.append((s, step, fixed))
    if not graphs:
        raise RuntimeError("no decoded candidate is a valid truss (even after repair); train the model longer")
    ev = evaluator.evaluate(graphs)
    predicted = predicted_values(model, objective, graphs)
    out, fe_path = [], []
    for g, p, f, pv, (s, step, fixed) in zip(graphs, ev.props, ev.feasible, predicted, meta):
        if not np.all(np.isfinite(p)):
            continue
        v = evaluator.value(p)
        fe_path.append((step, s, v))
        out.append(Candidate(g, p, v, float(pv), bool(f), s, step, fixed))
    rank_candidates(out, evaluator)
    return out, fe_path

