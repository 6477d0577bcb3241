"""Torch views of the design-space graph: positions, torch-geometric ``Data`` and batched graphs.

Graph convention (all 27 template nodes are graph nodes; inactive ones have no edges):

``x``          (27, 8) float32 node features: natural position (3, in [0, 1]), active flag (1),
               node-type one-hot (4: vertex, edge, face, body)
``edge_index`` (2, 2E) int64, both directions of every strut (COO)
``edge_attr``  (2E, 4) float32: strut vector pos[j] - pos[i] (3) and its length (1)
``y``          (1, k) float32 graph-level normalised labels (batches concatenate to (B, k))
``adj``        (1, 351) float32 and ``offsets`` (1, 27) float32: the dense VAE input, kept so a
               batch of ``Data`` can be fed to the VAE directly
"""

from __future__ import annotations

import numpy as np
import torch

from trussvae.design_space import octant

__all__ = ["NODE_FEATURE_DIM", "EDGE_FEATURE_DIM", "positions_from_offsets", "active_nodes",
           "dense_to_graph", "to_pyg_data"]

NODE_FEATURE_DIM = 8
EDGE_FEATURE_DIM = 4
_TEMPLATE = torch.tensor(octant.TEMPLATE_POSITIONS, dtype=torch.float32)            # (27, 3)
_DOF_FLAT = torch.tensor(octant.DOF_INDEX[:, 0] * 3 + octant.DOF_INDEX[:, 1])        # (27,)
_DOF_NODE = torch.tensor(octant.DOF_INDEX[:, 0])                                     # (27,)
_TRIU_I = torch.tensor(octant.TRIU_I)
_TRIU_J = torch.tensor(octant.TRIU_J)
_TYPE_ONEHOT = torch.nn.functional.one_hot(torch.tensor(octant.NODE_TYPES), 4).float()  # (27, 4)


def positions_from_offsets(offsets: torch.Tensor) -> torch.Tensor:
    """(B, 27) compact offsets -> (B, 27, 3) natural positions (differentiable)."""
    B = offsets.shape[0]
    flat = _TEMPLATE.to(offsets).reshape(1, 81).expand(B, 81).clone()
    flat[:, _DOF_FLAT.to(offsets.device)] += offsets
    return flat.reshape(B, 27, 3)


def active_nodes(adj: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """(B, 351) adjacency (0/1 or probabilities) -> (B, 27) bool: nodes with at least one strut."""
    on = (adj > threshold).to(torch.float32)
    deg = torch.zeros(adj.shape[0], 27, device=adj.device)
    deg.index_add_(1, _TRIU_I.to(adj.device), on)
    deg.index_add_(1, _TRIU_J.to(adj.device), on)
    return deg > 0


def active_dofs(adj: torch.Tensor) -> torch.Tensor:
    """(B, 351) adjacency -> (B, 27) bool mask of the offset entries that belong to active nodes."""
    return active_nodes(adj)[:, _DOF_NODE.to(adj.device)]


def dense_to_graph(adj: torch.Tensor, offsets: torch.Tensor):
    """Batch of dense inputs -> one disjoint graph (vectorised; no per-sample Python work).

    Returns ``x`` (B*27, 8), ``edge_index`` (2, 2E), ``edge_attr`` (2E, 4), ``batch`` (B*27,).
    """
    B, dev = adj.shape[0], adj.device
    pos = positions_from_offsets(offsets)                                      # (B, 27, 3)
    active = active_nodes(adj).unsqueeze(-1).to(pos)                           # (B, 27, 1)
    x = torch.cat([pos, active, _TYPE_ONEHOT.to(pos).expand(B, 27, 4)], dim=-1).reshape(B * 27, 8)
    b, e = torch.nonzero(adj > 0.5, as_tuple=True)                             # (E,), (E,)
    i = _TRIU_I.to(dev)[e] + 27 * b
    j = _TRIU_J.to(dev)[e] + 27 * b
    edge_index = torch.stack([torch.cat([i, j]), torch.cat([j, i])])           # (2, 2E)
    flat_pos = pos.reshape(B * 27, 3)
    vec = flat_pos[edge_index[1]] - flat_pos[edge_index[0]]                    # (2E, 3)
    edge_attr = torch.cat([vec, vec.norm(dim=-1, keepdim=True)], dim=-1)
    batch = torch.arange(B, device=dev).repeat_interleave(27)
    return x, edge_index, edge_attr, batch


def to_pyg_data(adjacency, offsets, y=None):
    """One structure (adjacency (351,) 0/1, offsets (27,), labels (k,) or None) -> ``torch_geometric.data.Data``."""
    from torch_geometric.data import Data

    adj = torch.as_tensor(np.asarray(adjacency), dtype=torch.float32).reshape(1, -1)
    off = torch.as_tensor(np.asarray(offsets), dtype=torch.float32).reshape(1, -1)
    x, edge_index, edge_attr, _ = dense_to_graph(adj, off)
    data = Data(x=x, edge_index=edge_index, edge_attr=edge_attr, pos=x[:, :3].clone(), adj=adj, offsets=off)
    if y is not None:
        data.y = torch.as_tensor(np.asarray(y), dtype=torch.float32).reshape(1, -1)
    return data
