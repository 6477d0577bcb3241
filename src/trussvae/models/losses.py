"""The VAE loss (eq. 4 of Zheng et al. 2023), as plain functions of a batch and the network output.

Per sample, averaged over the batch::

    L = w_adj * L_A + w_feat * L_x + w_prop * ||S - F(mu)||^2 + beta(t) * KL [+ w_mmd * MMD(q(z), p(z))]

``L_A``: BCE-with-logits summed over the 351 adjacency entries (``adjacency_loss="bce"``,
default) or the paper's squared error of the sigmoid probabilities (``"mse"``). ``L_x``: squared
error summed over the 27 offsets, either of all entries with target 0 for inactive nodes
(``feature_loss="all"``, default: the decoder then also learns to park unused nodes at the
template) or of the active nodes' offsets only (``"active"``); with ``feature_weighting="paper"``
each squared error is taken in the paper's offset units (face and body offsets x 2, so their
errors weigh 4x; the released code's loss, and the units of its node R^2), with ``"none"``
(default) in ours. Properties are normalised (see
:mod:`trussvae.data.normalization`). ``beta(t)``: :mod:`trussvae.models.kl_schedules`. The optional
MMD term (beyond the paper, ``w_mmd`` > 0) matches the aggregate posterior to the prior:
:mod:`trussvae.models.mmd`.

The optional dangling term (beyond the paper, ``w_dangling`` > 0 in :class:`~trussvae.models.TrussVAE`):
:func:`expected_dangling` of the decoder's adjacency probabilities at latents drawn from N(0, I) (with
``dangling_on="both"`` also at the batch's reconstructions), the expected number of full-cell nodes
with exactly one strut (the validity rule ``dangling`` of :mod:`trussvae.design_space.validity`, the
most frequent reason a prior sample decodes invalid).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from trussvae.data.graphs import active_dofs
from trussvae.design_space import octant
from trussvae.models.mmd import mmd_imq
from trussvae.models.paper_metrics import PAPER_OFFSET_FACTOR

__all__ = ["kl_divergence", "expected_dangling", "dangling_incidence", "loss_parts", "weighted_loss",
           "curve_nrmse_loss", "ADJACENCY_LOSSES", "FEATURE_LOSSES", "FEATURE_WEIGHTINGS", "CURVE_LOSSES"]

ADJACENCY_LOSSES = ("bce", "mse")
FEATURE_LOSSES = ("all", "active")
FEATURE_WEIGHTINGS = ("none", "paper")
#: the property term of a nonlinear (curve) model: ``log`` the squared error of the normalised log stresses
#: (as every property), ``nrmse`` :func:`curve_nrmse_loss` on the physical curves, ``both`` their sum
CURVE_LOSSES = ("log", "nrmse", "both")
_PAPER_WEIGHTS = torch.as_tensor(PAPER_OFFSET_FACTOR ** 2, dtype=torch.float32)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(B, d), (B, d) -> (B,) KL(N(mu, exp(logvar)) || N(0, I))."""
    return 0.5 * (logvar.exp() + mu ** 2 - 1.0 - logvar).sum(-1)


def dangling_incidence() -> torch.Tensor:
    """(64, 351) float: entry ``[v, e]`` = how many struts of the full periodic cell that the octant
    strut ``e`` creates end at full-cell node ``v`` (its degree contribution, 0 to 8: the strut's
    mirror images, :data:`~trussvae.design_space.octant.STRUT_IMAGES`, that meet at a node on mirror
    planes). The full-cell degree of node ``v`` is ``incidence[v] @ adjacency``, exactly as the
    validity rules count it."""
    inc = np.zeros((octant.N_FULL_NODES, octant.N_EDGES_CANDIDATE))
    for e, ids in enumerate(octant.STRUT_IMAGES):
        for s in ids[ids >= 0]:
            i, j = octant.FULL_STRUT_NODES[s]
            inc[i, e] += 1.0
            inc[j, e] += 1.0
    return torch.as_tensor(inc, dtype=torch.float32)


_INCIDENCE = dangling_incidence()
#: (64, 351) struts that touch each full-cell node; those that add exactly 1 to its degree
_AT_NODE, _SINGLE = (_INCIDENCE > 0).float(), (_INCIDENCE == 1).float()
#: (64,) nodes that can dangle at all (a node on mirror planes whose every strut doubles cannot)
_CAN_DANGLE = (_SINGLE.sum(-1) > 0).float()


#: logits enter the dangling term clamped to [-B, B]: every shifted exponent then stays above -2B = -80, so
#: no node's sum underflows in float32 (sigmoid(40) = 1 - 4e-18: the clamp changes no probability)
_LOGIT_BOUND = 40.0


def expected_dangling(adj_logits: torch.Tensor) -> torch.Tensor:
    """(B, 351) adjacency logits -> (B,) expected number of dangling full-cell nodes (validity rule
    ``dangling``: an active node with fewer than two struts in the full cell) when the struts are drawn
    independently with probabilities ``sigmoid(adj_logits)``.

    A node of an active octant node has degree >= 1, so it dangles iff its degree is exactly 1: one of
    its struts of degree contribution 1 present and every other incident strut absent,
    ``P = prod_{e at v} (1 - p_e) * sum_{e: contribution 1} p_e / (1 - p_e)``, evaluated in log space
    (``log(1 - p) = -softplus(l)``, ``p / (1 - p) = exp(l)``) with the logits clamped to +-40, where the
    probabilities are 0 and 1 to 4e-18. Differentiable in the logits; with hard 0/1 probabilities it is
    the count of the validity rules; P <= 1 at any logits.
    """
    at_node, single, can = (t.to(adj_logits) for t in (_AT_NODE, _SINGLE, _CAN_DANGLE))
    logits = adj_logits.clamp(-_LOGIT_BOUND, _LOGIT_BOUND)
    log_none = -(F.softplus(logits) @ at_node.T)                          # (B, 64) log P(no strut at v)
    # log sum_{e single at v} exp(l_e), shifted by each row's max logit: with the clamp every term is
    # >= exp(-80), so the sum of a node with such struts never underflows (the floor below only keeps the
    # log finite for nodes without any, which ``can`` zeroes). Unclamped logits let a node whose struts are
    # all far below the row's largest underflow to the floor and return P >> 1 at confident decodes: the
    # dangling term of the 2-hour run reached 1e8 and the run diverged (reference_2h_v2).
    m = logits.detach().max(-1, keepdim=True).values
    log_one = torch.log((torch.exp(logits - m) @ single.T).clamp_min(torch.finfo(m.dtype).tiny)) + m
    return (torch.exp(log_none + log_one) * can).sum(-1)


def curve_nrmse_loss(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """(B, m) predicted and true physical stress-strain curves -> the batch mean of
    ``sum_k (pred_k - true_k)^2 / range(true)^2``, i.e. m x the squared per-curve NRMSE of
    :func:`~trussvae.models.evaluation.curve_metrics` (``range`` = max - min of the true curve, floored at
    1e-6 of the batch's largest |stress| so a flat curve stays finite). The curve predictor's test metric
    weighs every point of a curve by its range; the log loss weighs a point by the spread of its log stress
    over the data set instead, so flat (post-buckled) curves, whose NRMSE is largest, count less there."""
    floor = 1e-6 * true.abs().max().detach()
    rng = torch.maximum(true.max(-1).values - true.min(-1).values, floor)
    return (((pred - true) / rng[:, None]) ** 2).sum(-1).mean()


def loss_parts(batch: dict, out: dict, adjacency_loss: str = "bce", feature_loss: str = "all",
               mmd: bool = False, mmd_samples: int | None = None,
               feature_weighting: str = "none") -> dict[str, torch.Tensor]:
    """Batch means of the loss terms: ``adjacency``, ``features``, ``property``, ``kl``, with a latent-only
    head (``out["y_latent"]``) ``property_latent``, and, when ``mmd`` and the batch has more than one
    sample, ``mmd`` (on at most ``mmd_samples`` latents).

    ``batch``: ``adj`` (B, 351), ``offsets`` (B, 27), ``y`` (B, k) normalised; ``out``: the
    network's :meth:`~trussvae.models.TrussVAENet.forward` dict.
    """
    if adjacency_loss not in ADJACENCY_LOSSES:
        raise ValueError(f"adjacency_loss must be one of {list(ADJACENCY_LOSSES)}, got {adjacency_loss!r}")
    if feature_loss not in FEATURE_LOSSES:
        raise ValueError(f"feature_loss must be one of {list(FEATURE_LOSSES)}, got {feature_loss!r}")
    if feature_weighting not in FEATURE_WEIGHTINGS:
        raise ValueError(f"feature_weighting must be one of {list(FEATURE_WEIGHTINGS)}, got {feature_weighting!r}")
    adj, off = batch["adj"], batch["offsets"]
    if adjacency_loss == "bce":
        l_adj = F.binary_cross_entropy_with_logits(out["adj_logits"], adj, reduction="none").sum(-1)
    else:
        l_adj = ((torch.sigmoid(out["adj_logits"]) - adj) ** 2).sum(-1)
    sq = (out["offsets"] - off) ** 2
    if feature_loss == "active":
        sq = sq * active_dofs(adj)
    if feature_weighting == "paper":
        sq = sq * _PAPER_WEIGHTS.to(sq)
    kl = kl_divergence(out["mu"], out["logvar"])
    parts = {"adjacency": l_adj.mean(), "features": sq.sum(-1).mean(),
             "property": ((out["y"] - batch["y"]) ** 2).sum(-1).mean(), "kl": kl.mean()}
    if "y_latent" in out:  # the latent-only head of a physics network (models.network)
        parts["property_latent"] = ((out["y_latent"] - batch["y"]) ** 2).sum(-1).mean()
    if mmd and out["z"].shape[0] > 1:
        z = out["z"]
        if mmd_samples and z.shape[0] > mmd_samples:  # the batch is shuffled: its first k rows are a random subsample
            z = z[:mmd_samples]
        parts["mmd"] = mmd_imq(z)
    return parts


def weighted_loss(parts: dict[str, torch.Tensor], w_adj: float, w_feat: float, w_prop: float,
                  w_mmd: float = 0.0, w_dangling: float = 0.0) -> torch.Tensor:
    """The loss without its KL term: ``w_adj L_A + w_feat L_x + w_prop L_S [+ w_mmd MMD]
    [+ w_dangling D]`` (add ``beta * parts["kl"]`` for the loss at a KL weight ``beta``)."""
    loss = w_adj * parts["adjacency"] + w_feat * parts["features"] + w_prop * parts["property"]
    if "property_latent" in parts:
        loss = loss + w_prop * parts["property_latent"]
    if "mmd" in parts:
        loss = loss + w_mmd * parts["mmd"]
    if "dangling" in parts:
        loss = loss + w_dangling * parts["dangling"]
    return loss
