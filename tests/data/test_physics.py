"""Physics features of structures (model.physics=ritz): values, symmetry, cache beside the data."""

from __future__ import annotations

import numpy as np
import pytest

from trussvae.data.physics import feature_path, load_or_compute_ritz, physics_fe_settings, ritz_features
from trussvae.design_space import symmetry
from trussvae.design_space.truss_graph import arrays_to_graph
from trussvae.fem.elasticity import orthotropic_components
from trussvae.fem.ritz import ritz_stiffness_many


@pytest.fixture(scope="module")
def arrays(labelled_store):
    s = labelled_store.load_structures()
    return s["adjacency"][:40], s["offsets"][:40]


def test_features_are_the_orthotropic_ritz_components_of_the_frames(arrays):
    adj, off = arrays
    f = ritz_features(adj, off)
    frames = [arrays_to_graph(a, o).to_frame(0.15) for a, o in zip(adj, off)]
    np.testing.assert_allclose(f, orthotropic_components(ritz_stiffness_many(frames, 2)), rtol=1e-12)
    # other settings change the values (here: the density scales the strut radii)
    assert not np.allclose(ritz_features(adj[:3], off[:3], fe={"relative_density": 0.1}), f[:3])


def test_features_transform_like_linear_labels_under_the_48_symmetries(arrays):
    adj, off = arrays[0][:8], arrays[1][:8]
    f = ritz_features(adj, off)
    for op in (1, 7, 23, 47):
        At, Ot = zip(*[symmetry.transform_inputs(a, o, op) for a, o in zip(adj, off)])
        expect = np.stack([symmetry.transform_orthotropic(x, op) for x in f])
        np.testing.assert_allclose(ritz_features(np.array(At), np.array(Ot)), expect, rtol=1e-9,
                                   atol=1e-12 * np.abs(f).max())


def test_structures_that_are_not_frames_give_nan(arrays):
    adj, off = arrays[0][:2].copy(), arrays[1][:2].copy()
    adj[0] = 0  # no strut
    f = ritz_features(adj, off)
    assert np.all(np.isnan(f[0])) and np.all(np.isfinite(f[1]))
    with pytest.raises(ValueError, match="351"):
        ritz_features(adj[:, :10], off[:1])


def test_cache_is_reused_and_recomputed_when_inputs_or_settings_change(arrays, tmp_path):
    adj, off = arrays
    f1 = load_or_compute_ritz(tmp_path, adj, off, hops=1)
    path = feature_path(tmp_path, 1)
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    np.testing.assert_array_equal(load_or_compute_ritz(tmp_path, adj, off, hops=1), f1)
    assert path.stat().st_mtime_ns == stamp  # read, not recomputed
    off2 = off.copy()
    off2[0] = -off2[0]
    f3 = load_or_compute_ritz(tmp_path, adj, off2, hops=1)
    assert path.stat().st_mtime_ns != stamp
    np.testing.assert_allclose(f3[1:], f1[1:])
    f4 = load_or_compute_ritz(tmp_path, adj, off2, hops=1, fe={"nu_s": 0.25})
    assert not np.allclose(f4, f3)


def test_settings_come_from_the_labels_meta():
    meta = {"labels": {"linear": {"fe": {"E_s": 2.0, "nu_s": 0.25, "beam": "euler_bernoulli",
                                         "relative_density": 0.1}}}}
    assert physics_fe_settings(meta) == {"E_s": 2.0, "nu_s": 0.25, "beam": "euler_bernoulli",
                                         "relative_density": 0.1}
    assert physics_fe_settings({})["relative_density"] == 0.15
    nonlinear_only = {"labels": {"nonlinear": {"fe": {"relative_density": 0.2, "max_strain": 0.25}}}}
    assert physics_fe_settings(nonlinear_only)["relative_density"] == 0.2
