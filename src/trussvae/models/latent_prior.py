"""A learned prior over the latent space: a Gaussian mixture fitted to the aggregate posterior.

A VAE's aggregate posterior q(z) = E_x q(z|x) rarely fills N(0, I): samples from N(0, I) land in
holes the decoder never saw, which is why raw validity of prior samples lags reconstruction
(two-stage VAE, Dai & Wipf 2019; ex-post density estimation, Ghosh et al. 2020).
:class:`GaussianMixturePrior` is fitted by EM to the encoder means (plus their posterior noise)
of the training set after training, and is used next to N(0, I) for sampling, validity and
exploration. It is a plain ``nn.Module`` whose parameters are buffers, so it lives in the
checkpoint's state dict.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GaussianMixturePrior"]


class GaussianMixturePrior(nn.Module):
    """K full-covariance Gaussians in d dimensions. ``fitted`` is False until :meth:`fit` ran."""

    def __init__(self, latent_dim: int, n_components: int = 32):
        super().__init__()
        if n_components < 1 or latent_dim < 1:
            raise ValueError(f"need n_components >= 1 and latent_dim >= 1, got {n_components}, {latent_dim}")
        self.register_buffer("weights", torch.full((n_components,), 1.0 / n_components))
        self.register_buffer("means", torch.zeros(n_components, latent_dim))
        self.register_buffer("chol", torch.eye(latent_dim).repeat(n_components, 1, 1))
        self.register_buffer("_fitted", torch.tensor(False))

    @property
    def fitted(self) -> bool:
        return bool(self._fitted)

    @property
    def n_components(self) -> int:
        return self.weights.numel()

    def _component_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """(n, K) log N(z | mu_k, Sigma_k)."""
        d, K = z.shape[-1], self.n_components
        # Mahalanobis distances as one GEMM against the stacked inverse factors (chunks of rows bound the
        # memory); a batched triangular solve over (n, K) copies the factors n K times (minutes at 20k)
        eye = torch.eye(d, dtype=self.chol.dtype, device=self.chol.device)
        w = torch.linalg.solve_triangular(self.chol, eye.expand(K, d, d), upper=False)  # (K, d, d) = L_k^-1
        w_all = w.transpose(1, 2).permute(1, 0, 2).reshape(d, K * d)  # z @ w_all -> (n, K d): L_k^-1 z
        shift = torch.einsum("kij,kj->ki", w, self.means)  # (K, d): L_k^-1 mu_k
        maha = torch.cat([((zc @ w_all).view(len(zc), K, d) - shift).pow(2).sum(-1)
                          for zc in z.split(8192)]) if len(z) else z.new_zeros(0, K)
        logdet = 2 * torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)
        return -0.5 * (maha + logdet[None] + d * math.log(2 * math.pi))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """(n,) log density of the mixture."""
        return torch.logsumexp(self._component_log_prob(z) + torch.log(self.weights)[None], dim=1)

    @torch.no_grad()
    def fit(self, z: torch.Tensor, n_iter: int = 100, seed: int = 0, reg: float = 1e-4, tol: float = 1e-5) -> dict:
        """EM on samples ``z`` (n, d) (e.g. encoder means + sigma * noise); k-means++ initialisation.

        Returns ``{"log_likelihood": mean log-likelihood per sample, "iterations": n}``."""
        z = torch.as_tensor(z, dtype=torch.float32).to(self.means.device)
        n, d = z.shape
        K = self.n_components
        if d != self.means.shape[1]:
            raise ValueError(f"latents have {d} dimensions, the prior {self.means.shape[1]}")
        if isinstance(n_iter, bool) or int(n_iter) < 1:
            raise ValueError(f"model.prior_fit_iterations must be an integer >= 1, got {n_iter!r}")
        if n < 2 * K:
            raise ValueError(f"need at least {2 * K} latent samples to fit {K} components, got {n}")
        if not torch.isfinite(z).all():
            raise ValueError("latent samples contain NaN or inf")
        g = torch.Generator(device="cpu").manual_seed(seed)
        centres = [z[torch.randint(n, (1,), generator=g)].squeeze(0)]
        for _ in range(1, K):  # k-means++
            dist = torch.cdist(z, torch.stack(centres)).min(dim=1).values.pow(2)
            centres.append(z[torch.multinomial(dist / dist.sum(), 1, generator=g)].squeeze(0))
        self.means.copy_(torch.stack(centres))
        cov0 = torch.cov(z.T) + reg * torch.eye(d, device=z.device)
        self.chol.copy_(torch.linalg.cholesky(cov0).expand(K, d, d))
        self.weights.fill_(1.0 / K)
        prev, iterations = -math.inf, 0
        eye = torch.eye(d, device=z.device)
        for iterations in range(1, n_iter + 1):  # noqa: B007 (the count is reported)
            logp = self._component_log_prob(z) + torch.log(self.weights)[None]
            ll = torch.logsumexp(logp, dim=1, keepdim=True)
            resp = torch.exp(logp - ll)  # (n, K)
            nk = resp.sum(0) + 1e-10
            self.weights.copy_(nk / n)
            means = (resp.T @ z) / nk[:, None]
            self.means.copy_(means)
            cov = torch.stack([((z - means[k]) * resp[:, k:k + 1]).T @ (z - means[k]) for k in range(K)])
            cov = cov / nk[:, None, None] + reg * eye
            self.chol.copy_(torch.linalg.cholesky(cov))
            cur = float(ll.mean())
            if cur - prev < tol * abs(cur):
                break
            prev = cur
        self._fitted.fill_(True)
        return {"log_likelihood": float(self.log_prob(z).mean()), "iterations": iterations}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, d) samples (on the prior's device)."""
        if not self.fitted:
            raise RuntimeError("the learned prior has not been fitted (GaussianMixturePrior.fit)")
        k = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator)
        z = self.means.cpu()[k] + (self.chol.cpu()[k] @ eps.unsqueeze(-1)).squeeze(-1)
        return z.to(self.means.device)
