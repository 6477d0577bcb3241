"""Agreement with the external Abaqus catalogue (tests/data/reference, see PROVENANCE.md).

Diagonal compliance entries S11..S66, relative error |S - S_ref| / |S_ref|:
``euler_bernoulli_frame`` tensors in Euler-Bernoulli mode (median <= 5e-4, p90 <= 5e-3) and
``abaqus_b31_4_elements_per_strut`` tensors in Timoshenko mode (median <= 1.5 %).
Full distribution: ``python benchmarks/reference_agreement.py``.
"""

import numpy as np
import pytest

from trussvae.fem import homogenize_many

EB, B31 = "euler_bernoulli_frame", "abaqus_b31_4_elements_per_strut"


def diagonal_errors(frames, refs, beam):
    C = homogenize_many(frames, beam=beam)
    S = np.linalg.inv(C)
    ours, ref = np.diagonal(S, axis1=1, axis2=2), np.diagonal(refs, axis1=1, axis2=2)
    return np.abs(ours - ref) / np.abs(ref)


def test_reference_catalogue_complete(reference):
    frames, refs, models, names = reference
    assert len(frames) == 360 and len(set(n.split("@")[0] for n in names)) == 120
    assert (models == EB).sum() == 303 and (models == B31).sum() == 57
    for f, n in zip(frames, names):  # the stored radius gives the stored density
        assert f.relative_density() == pytest.approx(float(n.split("@")[1]), rel=1e-3)


def test_euler_bernoulli_reference(reference):
    frames, refs, models, _ = reference
    sel = np.flatnonzero(models == EB)
    err = diagonal_errors([frames[i] for i in sel], refs[sel], "euler_bernoulli")
    assert np.median(err) <= 5e-4
    assert np.percentile(err, 90) <= 5e-3


def test_b31_reference_in_timoshenko_mode(reference):
    frames, refs, models, _ = reference
    sel = np.flatnonzero(models == B31)
    err = diagonal_errors([frames[i] for i in sel], refs[sel], "timoshenko")
    assert np.median(err) <= 0.015
