"""Physical sanity over many lattices: bounds, design-space cells, pure-Python kernels."""

import os
import subprocess
import sys

import numpy as np
import pytest

from trussvae.fem import elasticity as el
from trussvae.fem import homogenize, homogenize_many


def check_bounds(C, rho):
    """Stiffness below the Voigt bound in every direction and below Hashin-Shtrikman for K."""
    assert np.all(np.linalg.eigvalsh(C)[:, 0] > 0)
    d = np.random.default_rng(0).normal(size=(200, 3))
    E = np.array([el.directional_youngs_modulus(c, d) for c in C])
    assert np.all(E <= el.voigt_bound(rho).E[:, None] * (1 + 1e-9))
    assert np.all(el.voigt_bulk_modulus(C) <= el.voigt_bound(rho).K * (1 + 1e-9))
    assert np.all(el.reuss_bulk_modulus(C) <= el.hashin_shtrikman_upper(rho).K * (1 + 1e-9))


def test_reference_lattices_respect_bounds(reference):
    frames = [f.with_relative_density(0.15) for f in reference[0][::3]]
    check_bounds(homogenize_many(frames), np.full(len(frames), 0.15))


def test_design_space_lattices():
    generation = pytest.importorskip("trussvae.generation")
    graphs = generation.generate_structures(40, 123)
    frames = [g.to_frame(relative_density=0.15) for g in graphs]
    C = homogenize_many(frames, n_jobs=2)
    check_bounds(C, np.full(len(frames), 0.15))
    # three mirror planes -> orthotropic: the 9 components carry the whole tensor
    assert np.allclose(el.stiffness_from_orthotropic(el.orthotropic_components(C)), C,
                       rtol=0, atol=1e-12 * np.abs(C).max())
    # n_jobs=2 vs 1: equal to rounding (see tests/fem/test_homogenize.py::test_batch_matches_single_and_threads)
    np.testing.assert_allclose(C[:5], homogenize_many(frames[:5]), rtol=0, atol=1e-11 * np.abs(C).max())
    assert np.allclose(homogenize(frames[0], beam="euler_bernoulli")[:3, :3], C[0, :3, :3], rtol=0.2)


def test_kernels_run_without_jit():
    code = ("import numpy as np; from trussvae.fem import PeriodicFrame, homogenize;"
            "f = PeriodicFrame(np.eye(3), [[0,0,0]], [[0,0]]*3, np.eye(3, dtype=int), 0.05);"
            "C = homogenize(f); assert abs(C[0,0] - np.pi*0.05**2) < 1e-15, C; print('ok')")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
