"""Nonlinear homogenization: uniaxial compression of periodic cells (trussvae.fem.nonlinear)."""

import numpy as np
import pytest
from scipy.optimize import brentq

from trussvae.fem import PeriodicFrame, homogenize
from trussvae.fem.elasticity import youngs_moduli
from trussvae.fem.linear import MechanismError
from trussvae.fem.nonlinear import (
    LABEL_STRAINS,
    _Cell,
    compression_labels,
    linear_buckling,
    strut_compression_rates,
    uniaxial_compression,
)
from trussvae.generation import elementary, generate_structures


def simple_cubic(rho):
    return PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0], [0, 0], [0, 0]], np.eye(3, dtype=int), 0.01) \
        .with_relative_density(rho)


def _frames():
    gen = [g.to_frame(relative_density=0.15) for g in generate_structures(4, seed=3)[:2]]
    return [simple_cubic(0.15), elementary("octet").to_frame(relative_density=0.15),
            elementary("bcc").to_frame(relative_density=0.15), *gen]


@pytest.mark.parametrize("k", range(5))
def test_small_strain_slope_equals_linear_homogenizer(k):
    frame = _frames()[k]
    E33 = youngs_moduli(homogenize(frame))[2]
    res = uniaxial_compression(frame, max_strain=2e-4, imperfection=0.0, first_step=1e-4)
    assert res.status == "converged"
    assert res.initial_modulus == pytest.approx(E33, rel=1e-6)
    secant = res.path_stress[1] / res.path_strain[1]  # stress at 1e-4 strain
    assert secant == pytest.approx(E33, rel=0.01)


def test_simple_cubic_buckles_at_rotationally_restrained_sway_euler_strain():
    # one node, three struts: the z-column has periodic (equal) end rotations, free sway (F13, F23
    # free, zero shear stress) and each joint is restrained by the x- and y-struts whose far ends
    # rotate equally (bending stiffness 6 EI/L per strut end, i.e. G = 1 in the sway alignment chart):
    # tan(kL/2) = 6/(kL) -> kL = 2.383, K = pi/kL = 1.318, eps_cr = pi^2 I / ((K L)^2 A)
    frame = simple_cubic(0.02)
    r = frame.radius
    kl = 2 * brentq(lambda x: np.tan(x) - 3 / x, 0.5, 1.5)
    K = np.pi / kl
    eps_cr = np.pi**2 * (np.pi * r**4 / 4) / (K**2 * np.pi * r**2)
    res = uniaxial_compression(frame, beam="euler_bernoulli", imperfection=0.0, max_strain=0.03,
                               bifurcation_tol=0.005)
    assert res.status == "converged"
    assert res.instabilities and res.instabilities[0] == pytest.approx(eps_cr, rel=0.05)
    # post-buckling: plateau, the stress stays far below the linear extrapolation
    E = res.initial_modulus
    post = res.path_stress[res.path_strain > 3 * eps_cr]
    assert np.all(post < 1.1 * E * eps_cr)
    assert np.all(post > 0.8 * E * eps_cr)
    # the buckled state shears (sway mode)
    assert abs(res.path_F[-1][0, 2]) + abs(res.path_F[-1][1, 2]) > 1e-3


def test_linear_buckling_of_simple_cubic_is_the_sway_euler_strain():
    # the closed form of the test above; the cell's prebuckling path is linear (axial shortening only), so
    # the linearised analysis is exact up to the discretisation: two degenerate sway modes (x and y)
    frame = simple_cubic(0.02)
    r = frame.radius
    kl = 2 * brentq(lambda x: np.tan(x) - 3 / x, 0.5, 1.5)
    eps_cr = np.pi**2 * (np.pi * r**4 / 4) / ((np.pi / kl) ** 2 * np.pi * r**2)
    res = linear_buckling(frame, n_modes=3, beam="euler_bernoulli", imperfection=0.0)
    assert res.strains[0] == pytest.approx(eps_cr, rel=0.02)
    assert res.strains[1] == pytest.approx(res.strains[0], rel=1e-6) and res.strains[2] > 5 * res.strains[0]
    assert res.initial_modulus == pytest.approx(youngs_moduli(homogenize(frame))[2], rel=1e-6)
    # the instability the load path locates is the same strain
    path = uniaxial_compression(frame, beam="euler_bernoulli", imperfection=0.0, max_strain=0.006,
                                bifurcation_tol=0.002)
    assert path.instabilities[0] == pytest.approx(res.strains[0], rel=0.01)
    # the step of the difference quotient does not matter
    other = linear_buckling(frame, n_modes=3, beam="euler_bernoulli", imperfection=0.0, h=1e-6)
    np.testing.assert_allclose(other.strains, res.strains, rtol=1e-4)


def test_linear_buckling_of_generated_cells_and_bad_input():
    frames = _frames()
    octet = linear_buckling(frames[1])
    # the octet's struts buckle at ~8.5 % on the load path (test below); the linearised estimate is
    # later (0.133: the prebuckling rotation of its inclined struts is not in it) but of the same order
    assert 0.09 < octet.strains[0] < 0.2 and np.all(np.diff(octet.strains) >= 0)
    gen = linear_buckling(frames[3], n_modes=4)
    assert gen.strains.shape == (4,) and np.all(gen.strains > 0)
    # fewer unstable modes than asked: inf
    assert np.isinf(linear_buckling(simple_cubic(0.15), n_modes=400).strains[-1])
    with pytest.raises(ValueError, match="h must"):
        linear_buckling(frames[0], h=0.1)
    with pytest.raises(ValueError, match="n_modes"):
        linear_buckling(frames[0], n_modes=0)
    broken = PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0]], np.array([[1, 0, 0]]), 0.01)
    with pytest.raises(MechanismError):
        linear_buckling(broken)


def test_second_order_buckling_sees_the_prebuckling_rotations():
    # simple cubic: axial shortening only before its sway modes, so the second-order estimate is the linear one;
    # two degenerate sway modes (x and y) that shear the cell
    sc = linear_buckling(simple_cubic(0.15), second_order=True)
    assert sc.second_order_at == pytest.approx(0.5 * sc.strains[0], rel=1e-9)
    assert sc.second_order_strain == pytest.approx(sc.strains[0], rel=0.03)
    assert sc.tangent_ratio == pytest.approx(1.0, abs=1e-3)
    assert sc.close_modes == 2 and sc.sway_share > 0.5
    # octet: its inclined struts rotate before they buckle, so the linear estimate is late (0.133); the
    # second-order one is close to the instability the load path finds (~0.085, test below); local modes
    octet = linear_buckling(_frames()[1], second_order=True)
    first = linear_buckling(_frames()[1])
    np.testing.assert_allclose(octet.strains, first.strains, rtol=1e-10)  # the first-order fields do not change
    assert np.isnan(first.second_order_strain) and np.isnan(first.sway_share)
    assert octet.second_order_at == pytest.approx(0.05) and 0.08 < octet.second_order_strain < 0.1
    assert 0.5 < octet.tangent_ratio < 1.0 and octet.sway_share < 1e-3 and octet.close_modes >= 2


def test_imperfect_octet_buckles_and_plateaus():
    frame = elementary("octet").to_frame(relative_density=0.15)
    res = uniaxial_compression(frame)
    assert res.status == "converged" and np.all(np.isfinite(res.stress))
    assert res.strain.shape == res.stress.shape == (13,)
    np.testing.assert_allclose(res.strain, LABEL_STRAINS)
    E0 = res.initial_modulus
    # nearly linear at first, buckling at ~8.4 % (strut buckling), then a flat plateau
    assert res.stress[1] == pytest.approx(E0 * LABEL_STRAINS[1], rel=0.05)
    assert res.instabilities and 0.07 < res.instabilities[0] < 0.09
    assert abs(res.stress[-1] - res.stress[5]) < 0.02 * res.stress[5]
    assert res.stress[-1] < 0.35 * E0 * LABEL_STRAINS[-1]
    # the plateau is not a discretisation artefact: 4 elements per strut agree within 4 %
    fine = uniaxial_compression(frame, n_sub=4, bifurcation_tol=None)
    np.testing.assert_allclose(fine.stress, res.stress, rtol=0.04)


def test_work_equals_stored_energy():
    res = uniaxial_compression(elementary("bcc").to_frame(relative_density=0.15), max_strain=0.15,
                               max_step=0.0025)
    F33 = 1 - res.path_strain
    P33 = -res.path_stress
    work = np.sum(0.5 * (P33[1:] + P33[:-1]) * np.diff(F33))
    assert work == pytest.approx(res.path_energy[-1], rel=2e-3)


def _cell(frame, n_sub):
    return _Cell(frame, n_sub, 1e-2, 0, 1.0, 0.3, "timoshenko", True, False)


@pytest.mark.parametrize("n_sub", [1, 2])
def test_assembled_tangent_matches_finite_differences(n_sub):
    frame = elementary("octet").to_frame(relative_density=0.15)
    c = _cell(frame, n_sub)
    rng = np.random.default_rng(0)
    c.w += 0.02 * rng.normal(size=c.w.shape)
    c.w[0] = 0
    for k in range(c.M):
        from trussvae.fem.corotational import rotation_matrix
        c.R[k] = rotation_matrix(*(0.2 * rng.normal(size=3)))
    c.F += np.triu(0.05 * rng.normal(size=(3, 3)))
    ev = c.evaluate()
    base = c.state()
    n = c.n_full

    def energy_at(dfull):
        c.set_state(base)
        ev0 = c.evaluate()
        c.step(dfull, ev0.X * 0.0)  # pure cell-node perturbation (interior nodes fixed)
        W = c.evaluate().W
        c.set_state(base)
        return W

    h = 1e-5
    for _ in range(3):
        u, v = rng.normal(size=n), rng.normal(size=n)
        u[:3] = v[:3] = 0
        if n_sub == 1:
            gd = (energy_at(h * u) - energy_at(-h * u)) / (2 * h)
            assert gd == pytest.approx(ev.r @ u, rel=1e-6)
            hd = (energy_at(h * (u + v)) - energy_at(h * (u - v)) - energy_at(h * (v - u))
                  + energy_at(-h * (u + v))) / (4 * h * h)
            assert hd == pytest.approx(u @ ev.K @ v, rel=1e-4)
    if n_sub == 2:
        # condensed system: compare with the n_sub=2 Schur complement at the reference state
        c0 = _cell(frame, 2)
        ev0 = c0.evaluate()
        assert np.abs(ev0.r).max() < 1e-12 and ev0.neg == 0
        assert np.allclose(ev0.K, ev0.K.T, atol=1e-12 * np.abs(ev0.K).max())


def test_rigid_rotation_of_cell_gives_zero_force():
    from trussvae.fem.corotational import rotation_matrix
    c = _cell(elementary("octet").to_frame(relative_density=0.15), 2)
    Q = rotation_matrix(0.4, -0.9, 1.3)
    c.F = Q.copy()
    c.w = c.X @ Q.T - c.X @ Q.T  # zero fluctuation: x = Q X
    c.R[:] = Q
    ev = c.evaluate()
    assert abs(ev.W) < 1e-18 and np.abs(ev.r).max() < 1e-14 and np.abs(ev.gF).max() < 1e-14


def test_strut_compression_rates_are_the_linear_response_of_the_label_cell():
    """Simple cubic: the vertical strut shortens with the cell, the horizontal ones do not (no Poisson effect);
    octet: the struts in the e3 planes shorten, the horizontal ones lengthen (lateral expansion); the modulus
    is the buckling analysis' initial modulus (same cell, same reference solve)."""
    sc = elementary("simple_cubic").to_frame(relative_density=0.15)
    rate, e0 = strut_compression_rates(sc)
    vertical = np.abs(sc.strut_vectors()[:, 2]) > 0.9 * sc.strut_lengths()
    np.testing.assert_allclose(rate[vertical], 1.0, rtol=1e-4)
    np.testing.assert_allclose(rate[~vertical], 0.0, atol=1e-4)
    assert e0 == pytest.approx(linear_buckling(sc).initial_modulus, rel=1e-9)
    octet = elementary("octet").to_frame(relative_density=0.15)
    rate, e0 = strut_compression_rates(octet)
    flat = np.abs(octet.strut_vectors()[:, 2]) < 1e-9
    assert np.all(rate[~flat] > 0) and np.all(rate[flat] < 0)
    assert e0 == pytest.approx(linear_buckling(octet).initial_modulus, rel=1e-9)
    with pytest.raises(MechanismError):
        strut_compression_rates(PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0], [0, 0]], [[1, 0, 0], [0, 1, 0]], 0.05))


def test_confined_is_stiffer_and_mechanism_raises():
    frame = elementary("octet").to_frame(relative_density=0.15)
    free = uniaxial_compression(frame, max_strain=0.005)
    conf = uniaxial_compression(frame, max_strain=0.005, confined=True)
    assert conf.stress[0] > free.stress[0] > 0
    flat = PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0], [0, 0]], [[1, 0, 0], [0, 1, 0]], 0.05)
    with pytest.raises(MechanismError):
        uniaxial_compression(flat)


def test_failed_run_is_reported_not_truncated():
    res = uniaxial_compression(elementary("octet").to_frame(relative_density=0.15), max_increments=3)
    assert res.status == "failed" and "increments" in res.reason
    assert res.max_strain_reached < 0.25 and np.isnan(res.stress[-1])


def test_compression_labels_batch_survives_bad_structures():
    good = elementary("bcc").to_frame(relative_density=0.15)
    flat = PeriodicFrame(np.eye(3), [[0, 0, 0]], [[0, 0], [0, 0]], [[1, 0, 0], [0, 1, 0]], 0.05)
    stress, ok, reasons = compression_labels([good, flat], max_strain=0.05)
    assert stress.shape == (2, 13)
    assert ok[0] and not ok[1] and "MechanismError" in reasons[1]
    assert np.isfinite(stress[0, :3]).all() and np.isnan(stress[0, 3:]).all()


def test_previously_failing_generated_lattice_now_reaches_25_percent():
    # design-space lattice #20 of seed 11 stopped at 23.4 % ("trust region collapsed") with the sin-type
    # local rotations: half-strut elements bent past 45 deg softened spuriously (W ~ sin^2) and some
    # elements flipped to the spurious zero-energy state at 180 deg
    frame = generate_structures(21, seed=11)[20].to_frame(relative_density=0.15)
    res = uniaxial_compression(frame, bifurcation_tol=None)
    assert res.status == "converged" and np.all(np.isfinite(res.stress)) and np.all(res.stress > 0)
    assert res.final_struts.shape == (frame.n_struts, 3, 3)
    assert res.increments < 40 and res.iterations < 200


def test_compression_labels_in_parallel_equal_serial():
    frames = [elementary(n).to_frame(relative_density=0.15) for n in ("bcc", "octet", "simple_cubic")]
    s1, ok1, _ = compression_labels(frames, max_strain=0.05)
    s2, ok2, _ = compression_labels(frames, max_strain=0.05, n_jobs=2, chunk_size=1)
    assert ok1.all() and ok2.all()
    # same values and order; equal to rounding, not necessarily bit for bit (worker processes may run
    # BLAS with another thread count, and Newton converges to tol=1e-7 from there)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)


def test_cell_size_does_not_change_stress_or_convergence():
    # stress is invariant under a uniform scaling of the cell (lengths and radii); the Newton scaling
    # of the translations (by V^(1/3)) keeps the iteration count unchanged
    frame = elementary("octet").to_frame(relative_density=0.15)
    big = PeriodicFrame(3.0 * frame.lattice_vectors, frame.nodes, frame.struts, frame.shifts, 3.0 * frame.radii())
    a = uniaxial_compression(frame, max_strain=0.105, bifurcation_tol=None)
    b = uniaxial_compression(big, max_strain=0.105, bifurcation_tol=None)
    assert a.status == b.status == "converged"
    np.testing.assert_allclose(b.stress[:6], a.stress[:6], rtol=1e-6)
    assert b.iterations <= a.iterations + 3


# Curves of the first three design-space lattices of generate_structures(3, seed=11) at rho = 0.15 with the
# labelling settings, computed by the Python-loop solver before the numba Newton kernel (commit 8a0e70c).
_REFERENCE_CURVES = np.array([
    [6.1216508381e-05, 2.9266006874e-04, 4.5273041127e-04, 5.7422059745e-04, 6.3765593345e-04, 6.5513329430e-04,
     6.4113668964e-04, 6.2423632014e-04, 6.1225757462e-04, 6.0211987115e-04, 5.9184556302e-04, 5.7661166588e-04,
     5.3750072262e-04],
    [9.4049808193e-06, 4.6278732764e-05, 8.2033056838e-05, 1.1675993097e-04, 1.5054323184e-04, 1.8345967791e-04,
     2.1557964321e-04, 2.4696786654e-04, 2.7768407154e-04, 3.0778351044e-04, 3.3731744234e-04, 3.6633355516e-04,
     3.9487633914e-04],
    [8.2430385025e-05, 4.0331492734e-04, 5.4629265279e-04, 5.6376452091e-04, 5.7122021955e-04, 5.7718624057e-04,
     5.8235478087e-04, 5.8682849234e-04, 5.9069296853e-04, 5.9404581234e-04, 5.9699054664e-04, 5.9962231398e-04,
     6.0202046229e-04]])


def test_numba_solver_reproduces_reference_curves():
    # #0 buckles and softens, #2 yields and hardens slowly, #1 stiffens: the whole load path incl. the
    # trust-region steps of the numba kernel must give the stored curves (both converged to tol=1e-7; they
    # agree to 1e-14 here, 1e-6 of the peak stress leaves room for another BLAS / rounding)
    frames = [g.to_frame(relative_density=0.15) for g in generate_structures(3, seed=11)]
    stress, ok, _ = compression_labels(frames, extrapolate=False)
    assert ok.all()
    scale = np.abs(_REFERENCE_CURVES).max(axis=1, keepdims=True)
    np.testing.assert_allclose(stress / scale, _REFERENCE_CURVES / scale, atol=1e-6)
    # the labelling default takes the last Newton step of an increment without evaluating it where the
    # residual is predicted below tol / 10: the same curves to the tolerance (#0 moves by 1.5e-5 of its
    # peak after it buckled: a post-buckled state depends on the path), with fewer assemblies
    fast, ok, _ = compression_labels(frames)
    assert ok.all()
    np.testing.assert_allclose(fast / scale, _REFERENCE_CURVES / scale, atol=1e-4)
    n_slow = n_quick = 0
    for fr in frames:
        slow = uniaxial_compression(fr, max_strain=0.245, bifurcation_tol=None, tol=1e-7, extrapolate=False)
        quick = uniaxial_compression(fr, max_strain=0.245, bifurcation_tol=None, tol=1e-7)
        assert quick.work["assemblies"] <= slow.work["assemblies"]
        n_slow, n_quick = n_slow + slow.work["assemblies"], n_quick + quick.work["assemblies"]
        # the extrapolated energy (model decrease) agrees with the evaluated one
        np.testing.assert_allclose(quick.path_energy[-1], slow.path_energy[-1], rtol=1e-4)
    assert n_quick < n_slow


def test_labels_stop_at_the_last_label_strain():
    """The labelling path ends at the last label strain (0.245): the increment on to max_strain = 0.25 adds no
    label, and the labels are exactly those of the whole path."""
    from trussvae.fem.nonlinear import LABEL_STRAINS, last_label_strain

    assert last_label_strain(0.25) == pytest.approx(LABEL_STRAINS[-1]) == pytest.approx(0.245)
    assert last_label_strain(0.1) == pytest.approx(0.085)
    assert last_label_strain(0.003) == 0.003  # below the first label: the path to max_strain itself
    frame = generate_structures(3, seed=11)[2].to_frame(relative_density=0.15)
    whole = uniaxial_compression(frame, max_strain=0.25, bifurcation_tol=None, tol=1e-7)
    stress, ok, reasons = compression_labels([frame])
    assert whole.status == "converged" and ok[0] and reasons == [""]
    assert whole.max_strain_reached == pytest.approx(0.25)
    np.testing.assert_array_equal(stress[0], whole.stress)


def test_unstable_increments_are_reported():
    """The simple cubic cell buckles at ~2 % (sway): the increment across it meets an indefinite Hessian;
    the bcc cell stays smooth."""
    sc = uniaxial_compression(elementary("simple_cubic").to_frame(relative_density=0.15), max_strain=0.045,
                              bifurcation_tol=None)
    assert sc.unstable_increments and 0.015 < sc.unstable_increments[0] <= 0.045
    bcc = uniaxial_compression(elementary("bcc").to_frame(relative_density=0.15), max_strain=0.045,
                               bifurcation_tol=None)
    assert bcc.unstable_increments == []


@pytest.fixture(scope="module")
def bench():
    """benchmarks/bench_nonlinear.py as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_nonlinear.py"
    spec = importlib.util.spec_from_file_location("bench_nonlinear", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_iterations_per_increment_and_their_regimes(bench):
    """``path_iterations``: one entry per converged increment, adding up with the reference equilibrium's to
    ``iterations``; the benchmark's split by regime puts the simple cubic cell's buckling increment under
    ``unstable``, the increments before it under ``pre`` and those after it under ``post``."""
    sc = uniaxial_compression(elementary("simple_cubic").to_frame(relative_density=0.15), max_strain=0.085,
                              bifurcation_tol=None)
    assert sc.status == "converged"
    assert len(sc.path_iterations) == len(sc.path_strain) - 1
    assert all(k >= 1 for k in sc.path_iterations) and 0 < sum(sc.path_iterations) < sc.iterations
    split = bench.regime_split([sc])
    assert split["unstable"][0] == len(sc.unstable_increments) >= 1
    assert split["pre"][0] >= 1 and split["post"][0] >= 1
    assert sum(inc for inc, _ in split.values()) == len(sc.path_iterations)
    assert sum(its for _, its in split.values()) == sum(sc.path_iterations)
    assert split["pre"][0] == int(np.sum(sc.path_strain[1:] < sc.unstable_increments[0] - 1e-12))


def test_benchmark_curve_comparison(bench):
    ref = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 0.25], [1.0, 1.0, 1.0]])
    new = ref.copy()
    new[0, 1] += 0.02  # 0.5 % of the curve's max |stress| 4
    new[1, 2] += 1e-6  # 1e-6 of max |stress| 1
    new[2, 2] = np.nan  # not reached by the new solver
    c = bench.compare_curves(ref, new, tol=1e-3)
    assert c["max"] == pytest.approx(0.005)
    assert c["rel"][1, 2] == pytest.approx(1e-6)
    assert np.isnan(c["rel"][2, 2]) and c["median"] == 0.0
    assert list(c["differ"]) == [0] and list(c["nan_mismatch"]) == [2]
    same = bench.compare_curves(ref, ref)
    assert same["max"] == 0.0 and len(same["differ"]) == 0 and len(same["nan_mismatch"]) == 0
    with pytest.raises(ValueError, match="shapes differ"):
        bench.compare_curves(ref, new[:2])


def test_time_limit_counts_the_load_path_not_the_first_compile(monkeypatch):
    """The reference solve of a process's first call compiles the numba kernels (~30 s CPU with a cold
    cache): that time must not fail the structure; time spent on the load path still does."""
    import time

    from trussvae.fem import nonlinear

    frame = elementary("octet").to_frame(relative_density=0.15)
    original = nonlinear._Solver.tangent
    calls = {"n": 0}

    def slow_first_tangent(self, *args, **kwargs):  # the first tangent ends the reference state
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(0.6)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nonlinear._Solver, "tangent", slow_first_tangent)
    res = uniaxial_compression(frame, max_strain=0.05, time_limit=0.5)
    assert res.status == "converged" and res.seconds >= 0.6  # reported seconds: the whole analysis

    def slow_later_tangent(self, *args, **kwargs):  # time lost on the load path
        calls["n"] += 1
        if calls["n"] > 1:
            time.sleep(0.3)
        return original(self, *args, **kwargs)

    calls["n"] = 0
    monkeypatch.setattr(nonlinear._Solver, "tangent", slow_later_tangent)
    res = uniaxial_compression(frame, max_strain=0.05, time_limit=0.5)
    assert res.status == "failed" and "time limit" in res.reason


def test_more_sorensen_step_matches_the_eigen_decomposition_step():
    """The trust-region step of an indefinite model by shifted Cholesky factorisations (Moré-Sorensen) is the
    exact step of the eigen-decomposition (``_tr_subproblem``) to its tolerance; in the hard case (no gradient
    component along the lowest eigenvector) it gives up and the solver falls back to the exact step."""
    from trussvae.fem.nonlinear_cell import _more_sorensen, _tr_subproblem

    rng = np.random.default_rng(3)
    n = 40
    for trial in range(20):
        Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        lam = np.sort(rng.uniform(0.1, 10.0, n))
        lam[: 1 + trial % 3] *= -rng.uniform(0.01, 1.0)  # one to three negative eigenvalues
        A = (Q * lam) @ Q.T
        g = rng.normal(size=n)
        radius = rng.uniform(0.05, 2.0)
        p, q, S = np.zeros(n), np.zeros(n), np.zeros((n, n))
        k = _more_sorensen(A, g, radius, S, p, q, 1e-4)
        assert 0 < k <= 30
        p_default = np.zeros(n)
        assert 0 < _more_sorensen(A, g, radius, S, p_default, q) <= k  # the solver's tolerance: 1e-2
        assert np.linalg.norm(p_default) == pytest.approx(radius, rel=1e-2)
        lam_e, V = np.linalg.eigh(A)
        exact = _tr_subproblem(lam_e, V, V.T @ g, radius, np.zeros(1), np.zeros(1, np.int64))
        assert np.linalg.norm(p) == pytest.approx(radius, rel=1e-4)
        np.testing.assert_allclose(p, exact, atol=2e-3 * radius)
        # a model decrease at least that of the exact step, to its tolerance
        m_p, m_exact = g @ p + 0.5 * p @ A @ p, g @ exact + 0.5 * exact @ A @ exact
        assert m_p <= m_exact + 1e-3 * abs(m_exact)
    # hard case: the gradient has no component along the (negative) lowest eigenvector
    A = np.diag(np.r_[-1.0, np.linspace(1.0, 3.0, 9)])
    g = np.r_[0.0, np.full(9, 1e-3)]
    assert _more_sorensen(A, g, 1.0, np.zeros((10, 10)), np.zeros(10), np.zeros(10)) == -1


def test_cholesky_factor_and_solves():
    """The solver's in-place LAPACK Cholesky (upper factor, ``A = U^T U``, only the upper triangle read) and
    its triangular solves; indefinite matrices are reported, not raised. The installed numba exposes the
    LAPACK entry it uses (else the slower ``np.linalg.cholesky`` fallback would run silently)."""
    from trussvae.fem import nonlinear_cell as nc

    assert nc._XXPOTRF is not None
    rng = np.random.default_rng(0)
    for n in (1, 7, 150):
        M = rng.normal(size=(n, n))
        A = M @ M.T + n * np.eye(n)
        U = np.full((n, n), np.nan)  # the strict lower triangle stays scratch
        assert nc._cholesky_into(A, U)
        Ut = np.triu(np.nan_to_num(U))
        np.testing.assert_allclose(Ut.T @ Ut, A, rtol=1e-12, atol=1e-12 * n)
        np.testing.assert_allclose(Ut, np.linalg.cholesky(A).T, rtol=1e-10, atol=1e-12)
        b, x, y = rng.normal(size=n), np.zeros(n), np.zeros(n)
        nc._cho_solve(U, b, x)
        np.testing.assert_allclose(A @ x, b, rtol=1e-10, atol=1e-10)
        nc._forward(U, b, y)
        np.testing.assert_allclose(Ut.T @ y, b, rtol=1e-10, atol=1e-10)
        S = A.copy()
        assert nc._cholesky_into(S, S)  # in place
        np.testing.assert_array_equal(np.triu(S), np.triu(np.nan_to_num(U)))
    A = np.diag([2.0, -1.0, 3.0])
    assert not nc._cholesky_into(A, np.zeros((3, 3)))


def test_rescue_budget_where_the_step_cannot_be_cut_any_further():
    """An increment that fails at the smallest step gets one last try with ``rescue_iter`` iterations; paths
    that never get there are unchanged. Forced here with a 1-iteration budget and a large ``min_step``."""
    frame = elementary("bcc").to_frame(relative_density=0.15)
    kw = {"max_strain": 0.03, "bifurcation_tol": None, "tol": 1e-7}
    forced = {**kw, "max_iter": 1, "min_step": 0.004}
    failed = uniaxial_compression(frame, rescue_iter=0, **forced)
    assert failed.status == "failed" and "no convergence in 1 iterations" in failed.reason and failed.rescues == 0
    rescued = uniaxial_compression(frame, rescue_iter=40, **forced)
    assert rescued.status == "converged" and rescued.rescues >= 1
    ref = uniaxial_compression(frame, **kw)
    assert ref.rescues == 0
    np.testing.assert_allclose(rescued.stress, ref.stress, rtol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(uniaxial_compression(frame, rescue_iter=0, **kw).stress, ref.stress)


def test_a_label_that_failed_without_the_rescue_converges_with_it():
    """A structure of the reference data set whose label failed with solver revision 2 (40 iterations at a
    step cut to ~1e-6: a snap-through at fixed strain) converges with the rescue (tests/data provenance)."""
    from pathlib import Path

    from trussvae.design_space.truss_graph import arrays_to_graph

    with np.load(Path(__file__).parents[1] / "data" / "nonlinear_rescue_case.npz") as z:
        frame = arrays_to_graph(z["adjacency"], z["offsets"]).to_frame(relative_density=0.15)
    kw = {"max_strain": 0.245, "bifurcation_tol": None, "tol": 1e-7}
    assert uniaxial_compression(frame, rescue_iter=0, **kw).status == "failed"
    res = uniaxial_compression(frame, **kw)
    assert res.status == "converged" and res.rescues == 1 and np.isfinite(res.stress).all()
    stress, ok, _ = compression_labels([frame])  # the labelling path rescues too
    assert ok[0] and np.allclose(stress[0], res.stress, rtol=1e-12)
