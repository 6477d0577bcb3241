"""Positive definite stiffness by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trussvae.fem import elasticity as el
from trussvae.fem import homogenize_many
from trussvae.generation import generate_structures
from trussvae.models.admissible import AdmissibleStiffnessHead, is_admissible


@pytest.fixture(scope="module")
def labels():
    frames = [g.to_frame(0.15) for g in generate_structures(40, seed=1)]
    return el.orthotropic_components(homogenize_many(frames))


def test_zero_output_is_the_mean_and_every_output_is_pd(labels):
    head = AdmissibleStiffnessHead(labels.mean(axis=0))
    with torch.no_grad():
        mean = head(torch.zeros(1, 9)).numpy()[0]
        assert np.allclose(mean, labels.mean(axis=0), rtol=1e-5)
        raw = 3 * torch.randn(20000, 9, generator=torch.Generator().manual_seed(0))
        out = head(raw, dtype=torch.float64).numpy()
    assert is_admissible(out).all()
    C = el.stiffness_from_orthotropic(out)
    assert np.all(el.youngs_moduli(C) > 0) and np.all(el.shear_moduli(C) > 0)


def test_fe_labels_are_admissible_and_non_pd_rows_are_caught(labels):
    assert is_admissible(labels).all()
    bad = labels[:3].copy()
    bad[0, 1] = 2 * np.sqrt(bad[0, 0] * bad[0, 3])  # |C12| > sqrt(C11 C22)
    bad[1, 7] = -1e-4
    bad[2, 0] = np.nan
    assert not is_admissible(bad).any()


def test_head_is_differentiable_and_can_fit_a_label(labels):
    head = AdmissibleStiffnessHead(labels.mean(axis=0))
    raw = torch.zeros(1, 9, requires_grad=True)
    target = torch.tensor(labels[:1], dtype=torch.float32)
    opt = torch.optim.Adam([raw], lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        loss = ((head(raw) - target) / target.abs().clamp_min(1e-3)).pow(2).sum()
        loss.backward()
        opt.step()
    assert torch.allclose(head(raw), target, rtol=2e-3, atol=1e-6)


def test_bad_means():
    with pytest.raises(ValueError, match="9 mean"):
        AdmissibleStiffnessHead(np.ones(13))
    m = np.array([0.01, 0.02, 0, 0.01, 0, 0.01, 0.005, 0.005, 0.005])  # C12 > sqrt(C11 C22)
    with pytest.raises(ValueError, match="not positive definite"):
        AdmissibleStiffnessHead(m)
