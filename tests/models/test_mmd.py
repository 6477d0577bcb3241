"""The aggregate-posterior MMD term (trussvae.models.mmd)."""

import pytest
import torch

from trussvae.models.mmd import mmd_imq


def test_mmd_is_near_zero_for_prior_samples_and_large_for_mismatch():
    torch.manual_seed(0)
    same = [float(mmd_imq(torch.randn(512, 40))) for _ in range(5)]
    assert max(abs(v) for v in same) < 0.005
    assert float(mmd_imq(0.7 * torch.randn(512, 40))) > 0.05      # too narrow
    assert float(mmd_imq(torch.randn(512, 40) + 0.3)) > 0.05      # shifted


def test_mmd_gradient_pulls_towards_the_prior():
    torch.manual_seed(1)
    z = (0.5 * torch.randn(256, 8)).requires_grad_(True)
    prior = torch.randn(256, 8)
    opt = torch.optim.SGD([z], lr=20.0)
    first = float(mmd_imq(z, prior))
    for _ in range(50):
        opt.zero_grad()
        mmd_imq(z, prior).backward()
        opt.step()
    assert float(mmd_imq(z, prior)) < 0.5 * first
    assert z.std().item() > 0.6


def test_mmd_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2"):
        mmd_imq(torch.zeros(1, 3))
