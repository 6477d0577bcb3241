"""Decoders of the two halves of the graph. Plain ``nn.Module``s."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trussvae.design_space import octant
from trussvae.models.encoders import mlp

__all__ = ["AdjacencyDecoder", "NodeFeatureDecoder"]


class AdjacencyDecoder(nn.Module):
    """(B, d_A) topology-specific + shared latents -> (B, 351) adjacency *logits* (sigmoid -> probability)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], dropout: float = 0.0, activation: str = "relu",
                 norm: str = "none"):
        super().__init__()
        self.net = mlp(in_dim, hidden, octant.N_EDGES_CANDIDATE, dropout, activation, norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class NodeFeatureDecoder(nn.Module):
    """(B, d_x) shared + geometry-specific latents -> (B, 27) compact offsets.

    ``activation="tanh"`` (default) outputs ``0.5 * tanh(.)``, inside the admissible open
    interval (-0.5, 0.5) by construction; ``"linear"`` is the unconstrained output.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], activation: str = "tanh", dropout: float = 0.0,
                 hidden_activation: str = "relu", norm: str = "none"):
        super().__init__()
        if activation not in ("tanh", "linear"):
            raise ValueError(f"feature activation must be 'tanh' or 'linear', got {activation!r}")
        self.activation = activation
        self.net = mlp(in_dim, hidden, octant.N_DOF, dropout, hidden_activation, norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return octant.OFFSET_BOUND * torch.tanh(out) if self.activation == "tanh" else out
