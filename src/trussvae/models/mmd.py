"""Maximum mean discrepancy between the aggregate posterior and the prior (InfoVAE / WAE).

Beyond the paper: the KL term of eq. 4 acts per sample, so a low ``beta`` that keeps the
reconstruction sharp also lets the *aggregate* posterior q(z) drift away from N(0, I), and prior
samples then decode from regions the decoder never saw (invalid trusses). An MMD penalty between
a batch of posterior samples and a batch of prior samples (Zhao et al., InfoVAE, AAAI 2019;
Tolstikhin et al., WAE, ICLR 2018) matches q(z) to the prior as a whole without adding
information cost per sample. ``model.w_mmd`` weights it (0 = off).

The kernel is the inverse multiquadric k(x, y) = C / (C + |x - y|^2), summed over the scales
C = 2 d s^2, s^2 in :data:`SCALES` (the WAE choice, robust to the latent size d); the estimate is
the unbiased U-statistic.
"""

from __future__ import annotations

import torch

__all__ = ["mmd_imq", "SCALES"]

SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def mmd_imq(z: torch.Tensor, prior: torch.Tensor | None = None, scales=SCALES) -> torch.Tensor:
    """Unbiased MMD^2 estimate between samples ``z`` (n, d) and ``prior`` (m, d) (default: n draws
    of N(0, I)) with a multi-scale inverse-multiquadric kernel. Needs n, m >= 2."""
    n, d = z.shape
    if prior is None:
        prior = torch.randn_like(z)
    m = prior.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"mmd_imq needs at least 2 samples on each side, got {n} and {m}")
    dzz = _sq_dist(z, z)
    dzp = _sq_dist(z, prior)
    with torch.no_grad():  # the prior-prior term has no gradient
        dpp = _sq_dist(prior, prior)
    total = z.new_zeros(())
    for s in scales:  # the diagonal k(x, x) = 1 is removed by subtracting n (U-statistic)
        c = 2.0 * d * s
        total = total + ((c / (c + dzz)).sum() - n) / (n * (n - 1)) \
            + ((c / (c + dpp)).sum() - m) / (m * (m - 1)) - 2.0 * (c / (c + dzp)).mean()
    return total


def _sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances by one matrix product (torch.cdist's backward is several times
    slower on CPU); clamped at 0 against round-off."""
    return ((a * a).sum(1, keepdim=True) + (b * b).sum(1) - 2.0 * a @ b.T).clamp_min(0.0)
