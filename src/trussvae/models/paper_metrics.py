"""The paper's evaluation metrics, exactly as its released code defines them (FACTS.md section 6).

They are lenient next to ours (:mod:`trussvae.models.metrics`) and are reported beside them, under
``paper/...`` keys, so that our numbers can be compared with the paper's headline numbers:

``paper/adjacency_accuracy``
    threshold the predicted adjacency at 0.5 (exactly 0.5 counts as an edge), make the full
    symmetric 27 x 27 matrices of prediction and truth, and count equal entries over all
    ``N x 27 x 27`` entries: off-diagonal pairs twice, the diagonal once (always 0 = 0 here: the
    paper's files have a zero diagonal and so do our decodes).
``paper/node_r2_x|y|z``
    R^2 of the *offsets* (the paper's "ptb" convention: edge ``r`` = our offset, face/body
    ``s = -2 x`` our offset), per axis, over all ``N x 27`` node rows (vertices, fixed
    coordinates, inactive and unmoved nodes included), after clipping both sides to [-0.5, 0.5]
    and setting ``|v| < 1e-3`` to 0. Node numbering does not matter (all rows are pooled).
``paper/property_r2_<C..>``, ``paper/property_r2_min``
    R^2 per component on the raw (physical) scale, predictions from the latent mean.
``paper/validity``
    fraction of decoded prior samples whose bars form exactly one connected component (nodes
    without bars ignored; an empty graph is invalid); nothing else is checked.

Everything accumulates batch by batch (:class:`PaperMetrics`); R^2 uses exact running sums.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from trussvae.design_space import octant

__all__ = ["PaperMetrics", "paper_offsets", "one_component", "paper_validity", "AXES", "PAPER_OFFSET_FACTOR"]

AXES = ("x", "y", "z")
_CLIP = 0.5
_SNAP = 1e-3
#: factor from our compact offsets to the paper's ptb values, per DOF (edge 1, face/body -2)
PAPER_OFFSET_FACTOR = np.where(octant.NODE_TYPES[octant.DOF_INDEX[:, 0]] == 1, 1.0, -2.0)


def paper_offsets(offsets) -> np.ndarray:
    """(n, 27) our compact offsets -> (n, 27, 3) the paper's per-node offset table (clipped, snapped)."""
    off = np.asarray(offsets, dtype=np.float64).reshape(-1, octant.N_DOF)
    ptb = np.clip(off * PAPER_OFFSET_FACTOR, -_CLIP, _CLIP)
    ptb = np.where(np.abs(ptb) < _SNAP, 0.0, ptb)
    table = np.zeros((len(off), octant.N_NODES, 3))
    table[:, octant.DOF_INDEX[:, 0], octant.DOF_INDEX[:, 1]] = ptb
    return table


def one_component(adjacency_row) -> bool:
    """The paper's validity: the bars of a (351,) 0/1 adjacency vector form exactly one component."""
    a = np.asarray(adjacency_row).ravel() > 0.5
    if not a.any():
        return False
    i, j = octant.TRIU_I[a], octant.TRIU_J[a]
    nodes = np.unique(np.concatenate([i, j]))
    remap = -np.ones(octant.N_NODES, dtype=np.int64)
    remap[nodes] = np.arange(len(nodes))
    g = coo_matrix((np.ones(len(i)), (remap[i], remap[j])), shape=(len(nodes), len(nodes)))
    return connected_components(g, directed=False)[0] == 1


def paper_validity(adjacency_probabilities) -> float:
    """Fraction of decoded samples (n, 351) that are valid in the paper's sense (threshold 0.5:
    exactly 0.5 counts as an edge, as in the paper's code)."""
    p = np.asarray(adjacency_probabilities)
    if p.ndim != 2 or p.shape[1] != octant.N_EDGES_CANDIDATE or len(p) == 0:
        raise ValueError(f"expected (n, 351) adjacency probabilities, got shape {p.shape}")
    return float(np.mean([one_component(row >= 0.5) for row in p]))


class _R2:
    """Exact streaming R^2 per column: 1 - SS_res / SS_tot."""

    def __init__(self, k: int):
        self.n = 0
        self.sy = np.zeros(k)
        self.syy = np.zeros(k)
        self.res = np.zeros(k)

    def update(self, y, pred) -> None:
        y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
        self.n += len(y)
        self.sy += y.sum(0)
        self.syy += (y * y).sum(0)
        self.res += ((y - pred) ** 2).sum(0)

    def compute(self) -> np.ndarray:
        tot = self.syy - self.sy**2 / max(self.n, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tot > 0, 1.0 - self.res / tot, np.where(self.res > 0, -np.inf, 1.0))


class PaperMetrics:
    """Accumulates the paper's reconstruction and property metrics over batches.

    ``update(adj_true, adj_prob, off_true, off_pred, y_true=None, y_pred=None)``: numpy or torch,
    adjacency (B, 351), offsets (B, 27), properties (B, k) on the physical scale.
    ``compute(prefix="paper")`` -> dict of ``<prefix>/...`` values.
    """

    def __init__(self, property_names=()):
        self.property_names = list(property_names)
        self.reset()

    def reset(self) -> None:
        self._equal = 0.0
        self._entries = 0
        self._node = _R2(3)
        self._prop = _R2(len(self.property_names)) if self.property_names else None

    @staticmethod
    def _np(x) -> np.ndarray:
        return x.detach().cpu().double().numpy() if hasattr(x, "detach") else np.asarray(x, np.float64)

    def update(self, adj_true, adj_prob, off_true, off_pred, y_true=None, y_pred=None) -> None:
        at, ap = self._np(adj_true) > 0.5, self._np(adj_prob) >= 0.5
        if at.shape != ap.shape or at.ndim != 2 or at.shape[1] != octant.N_EDGES_CANDIDATE:
            raise ValueError(f"adjacency: expected two (B, 351) arrays, got {at.shape} and {ap.shape}")
        b = len(at)
        # full symmetric 27 x 27 incl. the diagonal: each off-diagonal pair counts twice, the
        # 27 diagonal entries are 0 on both sides
        self._equal += 2.0 * float((at == ap).sum()) + b * octant.N_NODES
        self._entries += b * octant.N_NODES * octant.N_NODES
        t, p = paper_offsets(self._np(off_true)), paper_offsets(self._np(off_pred))
        self._node.update(t.reshape(-1, 3), p.reshape(-1, 3))
        if self._prop is not None and y_true is not None:
            self._prop.update(self._np(y_true), self._np(y_pred))

    def compute(self, prefix: str = "paper") -> dict[str, float]:
        if self._entries == 0:
            raise ValueError("PaperMetrics.compute: no batch was added")
        out = {f"{prefix}/adjacency_accuracy": self._equal / self._entries}
        for a, r2 in zip(AXES, self._node.compute()):
            out[f"{prefix}/node_r2_{a}"] = float(r2)
        if self._prop is not None and self._prop.n:
            r2 = self._prop.compute()
            out.update({f"{prefix}/property_r2_{n}": float(v) for n, v in zip(self.property_names, r2)})
            out[f"{prefix}/property_r2_min"] = float(np.min(r2))
        return out
