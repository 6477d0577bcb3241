"""Admissible stiffness predictions: positive definite by construction.

:class:`AdmissibleStiffnessHead` turns 9 unconstrained network outputs into the 9 orthotropic
components (order of :data:`trussvae.fem.elasticity.ORTHOTROPIC_NAMES`: C1111 C1122 C1133 C2222
C2233 C3333 C2323 C3131 C1212) of a stiffness that is positive definite for every input:

- the 3x3 normal block is ``N = L L^T`` with ``L`` lower triangular, a positive diagonal
  (``L_ii = s_i (softplus(a_ii) + 1e-3)``) and bounded off-diagonal entries
  (``|L_ij| < 3 s_i``, a tanh), so ``N`` is symmetric positive definite with a bounded condition
  number relative to its scale;
- the shear moduli are ``G_k = g_k exp(c_k)`` > 0.

An orthotropic stiffness with a PD normal block and positive shear moduli is PD, so every
modulus derived from it (Young's moduli, Poisson's ratios, K_V, G_V) is physical.

The scales ``s`` (rows of the Cholesky factor of the mean normal block) and ``g`` (mean shear
moduli) come from the label normaliser fitted on the training split, so the raw outputs are O(1)
at initialisation. The head returns *physical* components; the training loss compares them
after the same normalisation as the labels (:meth:`normalised`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AdmissibleStiffnessHead", "is_admissible", "ORTHOTROPIC_NORMAL", "ORTHOTROPIC_SHEAR"]

#: positions of the normal-block entries (i, j) in the 9-component order, and of the shear moduli
ORTHOTROPIC_NORMAL = {(0, 0): 0, (0, 1): 1, (0, 2): 2, (1, 1): 3, (1, 2): 4, (2, 2): 5}
ORTHOTROPIC_SHEAR = (6, 7, 8)
_TRIL = ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2))
_DIAG_FLOOR = 1e-3  # L_ii >= 1e-3 s_i: moduli down to 1e-6 of the mean stay well-conditioned
_SOFTPLUS_ONE = math.log(math.expm1(1.0 - _DIAG_FLOOR))  # softplus(_SOFTPLUS_ONE) + floor == 1
_OFFDIAG_BOUND = 3.0


class AdmissibleStiffnessHead(nn.Module):
    """(B, 9) raw outputs -> (B, 9) physical orthotropic components of a PD stiffness."""

    def __init__(self, mean_components):
        super().__init__()
        m = np.asarray(mean_components, dtype=np.float64)
        if m.shape != (9,):
            raise ValueError(f"AdmissibleStiffnessHead needs the 9 mean orthotropic components, got shape {m.shape}")
        N = np.zeros((3, 3))
        for (i, j), k in ORTHOTROPIC_NORMAL.items():
            N[i, j] = N[j, i] = m[k]
        try:
            L = np.linalg.cholesky(N)
        except np.linalg.LinAlgError:
            raise ValueError("the mean normal block of the training labels is not positive definite: "
                             "the labels are not stiffness components (data.target=linear expected)") from None
        shear = m[list(ORTHOTROPIC_SHEAR)]
        if np.any(shear <= 0):
            raise ValueError(f"mean shear moduli must be positive, got {shear}")
        # raw = 0 reproduces the mean normal block exactly: L = L0 when a_ii = softplus^-1(1), b_ij = L0_ij / s_i
        self.register_buffer("row_scale", torch.tensor(np.diag(L).copy(), dtype=torch.float64))
        ratio = np.array([L[i, j] / L[i, i] for i, j in _TRIL if i != j])
        if np.any(np.abs(ratio) >= _OFFDIAG_BOUND):
            raise ValueError(f"mean normal block too ill-conditioned for the head (L_ij / L_ii = {ratio})")
        self.register_buffer("offdiag0", torch.tensor(np.arctanh(ratio / _OFFDIAG_BOUND), dtype=torch.float64))
        self.register_buffer("shear_scale", torch.tensor(shear, dtype=torch.float64))

    def forward(self, raw: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Physical components, computed in float64 and returned in ``dtype`` (default: that of ``raw``)."""
        if raw.shape[-1] != 9:
            raise ValueError(f"expected 9 raw outputs, got {raw.shape[-1]}")
        x = raw.double()
        s = self.row_scale.double()
        cols = []
        off = 0
        for k, (i, j) in enumerate(_TRIL):
            if i == j:
                cols.append(s[i] * (F.softplus(x[..., k] + _SOFTPLUS_ONE) + _DIAG_FLOOR))
            else:
                cols.append(s[i] * _OFFDIAG_BOUND * torch.tanh(x[..., k] + self.offdiag0[off].double()))
                off += 1
        l00, l10, l11, l20, l21, l22 = cols
        normal = [l00 * l00, l00 * l10, l00 * l20, l10 * l10 + l11 * l11, l10 * l20 + l11 * l21,
                  l20 * l20 + l21 * l21 + l22 * l22]  # N = L L^T in the order C11 C12 C13 C22 C23 C33
        shear = self.shear_scale.double() * torch.exp(x[..., 6:].clamp(max=30.0))
        out = torch.cat([torch.stack(normal, dim=-1), shear], dim=-1)
        return out.to(dtype or raw.dtype)


def is_admissible(components, tol: float = 0.0) -> np.ndarray:
    """(n,) bool: the orthotropic stiffness of each row of ``components`` (n, 9) is positive definite
    (smallest eigenvalue of the normal block > ``tol`` and every shear modulus > ``tol``)."""
    c = np.asarray(components, dtype=np.float64).reshape(-1, 9)
    N = np.zeros((len(c), 3, 3))
    for (i, j), k in ORTHOTROPIC_NORMAL.items():
        N[:, i, j] = N[:, j, i] = c[:, k]
    finite = np.all(np.isfinite(c), axis=1)
    lam = np.full(len(c), -np.inf)
    lam[finite] = np.linalg.eigvalsh(N[finite])[:, 0]
    return finite & (lam > tol) & np.all(c[:, list(ORTHOTROPIC_SHEAR)] > tol, axis=1)
