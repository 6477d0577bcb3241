"""Property predictor F_omega: latent mean -> normalised properties. A plain ``nn.Module``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trussvae.models.encoders import mlp

__all__ = ["PropertyPredictor"]


class PropertyPredictor(nn.Module):
    """(B, d) latent mean -> (B, k) normalised properties."""

    def __init__(self, latent_dim: int, hidden: Sequence[int], n_properties: int, dropout: float = 0.0,
                 activation: str = "relu", norm: str = "none"):
        super().__init__()
        self.net = mlp(latent_dim, hidden, n_properties, dropout, activation, norm)

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return self.net(mu)
