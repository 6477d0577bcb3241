"""Encoders: dense MLP (the paper's) and a message-passing graph encoder. Plain ``nn.Module``s."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trussvae.data.graphs import EDGE_FEATURE_DIM, NODE_FEATURE_DIM, dense_to_graph

__all__ = ["mlp", "MLPEncoder", "GraphEncoder", "ACTIVATIONS", "NORMS"]


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU}
NORMS = ("none", "layer", "batch")


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, dropout: float = 0.0, activation: str = "relu",
        norm: str = "none") -> nn.Sequential:
    """``in_dim -> hidden... -> out_dim``: Linear [-> LayerNorm | BatchNorm1d] -> activation [-> Dropout]
    per hidden layer, a plain Linear output (no activation)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers.append(nn.Linear(d, h))
        if norm == "layer":
            layers.append(nn.LayerNorm(h))
        elif norm == "batch":
            layers.append(nn.BatchNorm1d(h))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """(B, in_dim) -> mean (B, latent_dim), log-variance (B, latent_dim)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], latent_dim: int, dropout: float = 0.0,
                 activation: str = "relu", norm: str = "none"):
        super().__init__()
        self.net = mlp(in_dim, hidden, 2 * latent_dim, dropout, activation, norm)

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(v).chunk(2, dim=-1)
        return mu, logvar


class GraphEncoder(nn.Module):
    """GINE message passing over the 27-node truss graph + mean/max pooling -> (mu, logvar).

    Input: dense ``adj`` (B, 351) and ``offsets`` (B, 27); the graph (node positions, active
    flags, node types, strut vectors) is built by :func:`trussvae.data.graphs.dense_to_graph`.
    Used for the adjacency-side embedding (the node-feature side keeps its MLP).
    """

    def __init__(self, hidden: int, n_layers: int, latent_dim: int, head_hidden: Sequence[int] = (128,)):
        super().__init__()
        from torch_geometric.nn import GINEConv

        self.embed = nn.Linear(NODE_FEATURE_DIM, hidden)
        self.convs = nn.ModuleList(
            GINEConv(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)),
                     edge_dim=EDGE_FEATURE_DIM)
            for _ in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n_layers))
        self.head = mlp(2 * hidden, head_hidden, 2 * latent_dim)

    def forward(self, adj: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = adj.shape[0]
        x, edge_index, edge_attr, _ = dense_to_graph(adj, offsets)
        h = self.embed(x)                                                  # (B*27, H)
        for conv, norm in zip(self.convs, self.norms):
            h = h + torch.relu(norm(conv(h, edge_index, edge_attr)))
        h = h.reshape(B, 27, -1)                                           # every graph has 27 nodes
        pooled = torch.cat([h.mean(dim=1), h.amax(dim=1)], dim=-1)         # (B, 2H)
        mu, logvar = self.head(pooled).chunk(2, dim=-1)
        return mu, logvar
