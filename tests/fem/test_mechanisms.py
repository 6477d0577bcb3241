"""Mechanisms and singular cells raise MechanismError; batches survive them with errors='nan'."""

import numpy as np
import pytest

from trussvae.fem import FrameError, MechanismError, PeriodicFrame, homogenize, homogenize_many

I3 = np.eye(3, dtype=int)


def x_chain():
    return PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0]], [[1, 0, 0]], 0.05)


def square_grid():  # planar layers, no connection along z
    return PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0], [0, 0]], [[1, 0, 0], [0, 1, 0]], 0.05)


def two_sublattices():  # two interpenetrating but disconnected simple-cubic networks
    return PeriodicFrame(np.eye(3), [[0, 0, 0], [0.5, 0.5, 0.5]], [[0, 0]] * 3 + [[1, 1]] * 3,
                         np.vstack([I3, I3]), 0.05)


@pytest.mark.parametrize("check_topology", [True, False])
@pytest.mark.parametrize("builder, words", [(x_chain, "rank 1"), (square_grid, "rank 2"),
                                            (two_sublattices, "disconnected")])
def test_mechanisms_raise(builder, words, check_topology):
    with pytest.raises(MechanismError, match=words):
        homogenize_many([builder()], check_topology=check_topology)
    with pytest.raises(MechanismError, match=words):
        homogenize(builder())


def test_numerical_detection_without_topology(monkeypatch):
    """Even if the topological check were fooled, the numerical checks catch every case."""
    import trussvae.fem.linear as linear

    monkeypatch.setattr(linear, "mechanism_reason", lambda frame: None)
    for builder in (x_chain, square_grid, two_sublattices):
        with pytest.raises(MechanismError, match="numerical mechanism"):
            homogenize(builder())


def test_batch_with_failures(lat):
    good = [lat.bcc(), lat.octet()]
    frames = [good[0], x_chain(), good[1], two_sublattices()]
    C, reasons = homogenize_many(frames, errors="nan", return_errors=True, n_jobs=2)
    assert np.isnan(C[[1, 3]]).all() and np.isfinite(C[[0, 2]]).all()
    assert reasons[0] is None and reasons[2] is None
    assert "rank 1" in reasons[1] and "disconnected" in reasons[3]
    np.testing.assert_allclose(C[[0, 2]], homogenize_many(good), rtol=0, atol=1e-11 * np.abs(C[[0, 2]]).max())
    with pytest.raises(MechanismError, match="structure #1"):
        homogenize_many(frames)
    with pytest.raises(ValueError):
        homogenize_many(frames, errors="ignore")


def test_harmless_oddities_are_accepted(lat):
    """Isolated nodes, dangling struts and interpenetrating copies (index > 1) are not mechanisms."""
    sc = lat.simple_cubic(radius=0.05)
    C = homogenize(sc)
    isolated = PeriodicFrame(np.eye(3), [[0, 0, 0], [0.5, 0.5, 0.5]], sc.struts, sc.shifts, 0.05)
    assert np.allclose(homogenize(isolated), C, rtol=1e-12)
    dangling = PeriodicFrame(np.eye(3), [[0, 0, 0], [0.5, 0.5, 0.5]], [[0, 0]] * 3 + [[0, 1]],
                             np.vstack([I3, [[0, 0, 0]]]), 0.05)
    assert np.allclose(homogenize(dangling), C, rtol=1e-12, atol=1e-15)
    diagonals = PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0]] * 4,
                              [[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]], 0.05)
    assert diagonals.periodic_connectivity()[2] > 1
    assert np.all(np.linalg.eigvalsh(homogenize(diagonals)) > 0)


def test_bad_input_rejected_by_frame():
    with pytest.raises(FrameError):
        PeriodicFrame(np.eye(3), [[0, np.nan, 0]], [[0, 0]], [[1, 0, 0]], 0.05)
    with pytest.raises(FrameError):
        PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0]], [[1, 0, 0]], -0.05)
