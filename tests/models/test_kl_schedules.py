import math

import pytest

from trussvae.models import kl_schedules as ks


@pytest.mark.parametrize("shape", ks.SHAPES)
def test_ramp_endpoints_and_monotone(shape):
    vals = [ks.ramp(r / 20, shape) for r in range(21)]
    assert vals[0] == pytest.approx(0.0, abs=1e-12) and vals[-1] == pytest.approx(1.0)
    assert all(b >= a - 1e-12 for a, b in zip(vals, vals[1:]))
    assert ks.ramp(-1.0, shape) == pytest.approx(0.0, abs=1e-12) and ks.ramp(2.0, shape) == pytest.approx(1.0)


def test_cyclical_paper_like():
    # 400 epochs, 4 cycles of 100; beta 0 for the first 50 epochs of each cycle, then linear to 1 over 25
    kw = dict(total=400, n_cycles=4, ratio=0.5, shape="linear", start=0.5)
    assert ks.cyclical(0, **kw) == 0.0
    assert ks.cyclical(49, **kw) == 0.0
    assert ks.cyclical(62.5, **kw) == pytest.approx(0.5)
    assert ks.cyclical(80, **kw) == 1.0
    assert ks.cyclical(100, **kw) == 0.0          # next cycle restarts
    assert ks.cyclical(162.5, **kw) == pytest.approx(0.5)
    assert ks.cyclical(400, **kw) == 1.0          # end of training


def test_cyclical_bounds_and_beta_range():
    for t in range(0, 100):
        b = ks.cyclical(t, 100, n_cycles=3, ratio=0.3, shape="cosine", beta_min=0.1, beta_max=0.5)
        assert 0.1 - 1e-12 <= b <= 0.5 + 1e-12


def test_monotonic_and_constant_and_dispatch():
    assert ks.monotonic(0, 10) == 0.0 and ks.monotonic(10, 10) == 1.0 and ks.monotonic(2.5, 10) == pytest.approx(0.5)
    assert ks.constant(3.0, beta_max=0.2) == 0.2
    assert ks.beta_at("constant", 5, 10, beta_max=0.3) == 0.3
    assert ks.beta_at("monotonic", 2.5, 10, n_cycles=7) == pytest.approx(0.5)
    assert ks.beta_at("cyclical", 0.5, 2, n_cycles=2, ratio=1.0) == pytest.approx(0.5)
    assert math.isclose(ks.beta_at("cyclical", 0.25, 1, n_cycles=1, shape="sigmoid", ratio=0.5), 0.5)


@pytest.mark.parametrize("bad", [dict(schedule="nope"), dict(shape="cubic"), dict(start=1.0), dict(ratio=0.0)])
def test_bad_arguments(bad):
    schedule = bad.pop("schedule", "cyclical")
    with pytest.raises(ValueError):
        ks.beta_at(schedule, 1.0, 10, **bad)
