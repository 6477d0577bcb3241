"""The overlapping latent layout of eq. 3 (Zheng et al. 2023).

Two encoders give ``mu_A`` (d_A) from the adjacency and ``mu_x`` (d_x) from the node features.
The latent vector has ``d = d_A + d_x - d_Ax`` entries::

    z = [ mu_A[:d_A-d_Ax]                 topology-specific   (d_A - d_Ax)
          combine(mu_A[d_A-d_Ax:], mu_x[:d_Ax])   shared      (d_Ax)
          mu_x[d_Ax:] ]                   geometry-specific   (d_x - d_Ax)

``combine`` is the mean ``(a + b) / 2`` (``shared_mode="mean"``, default). Read literally, the
typeset eq. 3 closes the bracket early and gives ``a / 2 + b`` (``shared_mode="paper_literal"``),
which is asymmetric and unlike the prose ("partial overlap"); we read it as a typesetting slip
(the same equation also labels the last block "topology-specific" where the text says geometry).
The log-variance is combined the same way. The adjacency decoder reads ``z[:d_A]`` (topology +
shared), the node-feature decoder ``z[d_A-d_Ax:]`` (shared + geometry).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LatentLayout"]


@dataclass(frozen=True)
class LatentLayout:
    d_A: int
    d_x: int
    d_Ax: int
    shared_mode: str = "mean"

    def __post_init__(self):
        if min(self.d_A, self.d_x) < 1 or not (0 <= self.d_Ax <= min(self.d_A, self.d_x)):
            raise ValueError(f"latent split needs d_A, d_x >= 1 and 0 <= d_Ax <= min(d_A, d_x); "
                             f"got d_A={self.d_A}, d_x={self.d_x}, d_Ax={self.d_Ax}")
        if self.shared_mode not in ("mean", "paper_literal"):
            raise ValueError(f"shared_mode must be 'mean' or 'paper_literal', got {self.shared_mode!r}")

    @property
    def d(self) -> int:
        return self.d_A + self.d_x - self.d_Ax

    @property
    def topology(self) -> slice:
        return slice(0, self.d_A - self.d_Ax)

    @property
    def shared(self) -> slice:
        return slice(self.d_A - self.d_Ax, self.d_A)

    @property
    def geometry(self) -> slice:
        return slice(self.d_A, self.d)

    @property
    def adjacency_input(self) -> slice:
        """Entries of z read by the adjacency decoder (topology-specific + shared)."""
        return slice(0, self.d_A)

    @property
    def feature_input(self) -> slice:
        """Entries of z read by the node-feature decoder (shared + geometry-specific)."""
        return slice(self.d_A - self.d_Ax, self.d)

    def combine(self, v_A: torch.Tensor, v_x: torch.Tensor) -> torch.Tensor:
        """(B, d_A), (B, d_x) -> (B, d) by eq. 3 (used for both mu and log-variance)."""
        k = self.d_A - self.d_Ax
        a, b = v_A[:, k:], v_x[:, :self.d_Ax]
        shared = 0.5 * (a + b) if self.shared_mode == "mean" else 0.5 * a + b
        return torch.cat([v_A[:, :k], shared, v_x[:, self.d_Ax:]], dim=-1)
