"""Physics features of structures (model.physics=ritz, model.curve_features=buckling): values, symmetry,
cache beside the data."""

from __future__ import annotations

import numpy as np
import pytest

from trussvae.data.physics import (
    BUCKLING2_NAMES,
    BUCKLING_NAMES,
    BUCKLING_STRAIN_CAP,
    POSTBUCKLING_NAMES,
    REDISTRIBUTION_NAMES,
    buckling_fe_settings,
    buckling_feature_path,
    buckling_features,
    complete_buckling_fe,
    feature_path,
    load_or_compute_buckling,
    load_or_compute_ritz,
    physics_fe_settings,
    postbuckling_features,
    redistribution_features,
    ritz_features,
)
from trussvae.design_space import symmetry
from trussvae.design_space.truss_graph import arrays_to_graph, graph_to_arrays
from trussvae.fem.elasticity import LABEL_STRAINS, orthotropic_components
from trussvae.fem.nonlinear import linear_buckling
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


# ---------------------------------------------------------------------- buckling (model.curve_features)
def test_buckling_features_are_the_linearised_buckling_of_the_label_cell(arrays):
    adj, off = arrays[0][:4], arrays[1][:4]
    f = buckling_features(adj, off)
    assert f.shape == (4, len(BUCKLING_NAMES))
    for i in range(2):
        res = linear_buckling(arrays_to_graph(adj[i], off[i]).to_frame(0.15), n_modes=3)
        np.testing.assert_allclose(f[i], [res.initial_modulus, *np.minimum(res.strains, BUCKLING_STRAIN_CAP)],
                                   rtol=1e-12)
    assert np.all(f[:, 0] > 0) and np.all(np.diff(f[:, 1:], axis=1) >= 0) and np.all(f[:, 1] > 0)
    # the settings are those of the nonlinear labels: another imperfection seed moves them slightly, a
    # denser cell more
    other = buckling_features(adj[:1], off[:1], {"seed": 3})
    assert not np.array_equal(other, f[:1]) and np.allclose(other, f[:1], rtol=0.05)
    assert buckling_features(adj[:1], off[:1], {"relative_density": 0.2})[0, 1] > 1.2 * f[0, 1]
    bad = adj[:2].copy()
    bad[0] = 0  # no strut
    g = buckling_features(bad, off[:2])
    assert np.all(np.isnan(g[0])) and np.all(np.isfinite(g[1]))


def test_buckling_features_are_invariant_under_the_operations_that_keep_e3(arrays):
    adj, off = arrays[0][:3], arrays[1][:3]
    fe = {"imperfection": 0.0}  # the imperfection draw follows the node numbering, which the operations change
    f = buckling_features(adj, off, fe)
    keep_e3 = [k for k, (perm, _) in enumerate(symmetry.OPERATIONS) if perm[2] == 2 and k]
    for op in keep_e3[::5]:
        At, Ot = zip(*[symmetry.transform_inputs(a, o, op) for a, o in zip(adj, off)])
        # mirrors are exact to rounding; x <-> y swaps move a higher critical strain by up to ~1e-3 (the
        # discretised cell is not exactly x-y symmetric: measured 8.5e-4 on one of these rows)
        np.testing.assert_allclose(buckling_features(np.array(At), np.array(Ot), fe), f,
                                   rtol=1e-9 if symmetry.OPERATIONS[op][0] == (0, 1, 2) else 2e-3)


def test_buckling_cache_computes_only_missing_rows(arrays, tmp_path, monkeypatch):
    import trussvae.data.physics as physics

    adj, off = arrays[0][:6], arrays[1][:6]
    calls = []
    real = physics.buckling_features
    monkeypatch.setattr(physics, "buckling_features",
                        lambda a, o, fe=None, kind="buckling": calls.append(len(a)) or real(a, o, fe, kind))
    f1 = load_or_compute_buckling(tmp_path, adj, off, rows=[1, 3])
    assert calls == [2] and buckling_feature_path(tmp_path).is_file()
    assert np.all(np.isnan(f1[[0, 2, 4, 5]])) and np.all(np.isfinite(f1[[1, 3]]))
    f2 = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 3])
    assert calls == [2, 1]  # rows 1 and 3 come from the cache
    np.testing.assert_array_equal(f2[[1, 3]], f1[[1, 3]])
    load_or_compute_buckling(tmp_path, adj, off, {"seed": 1}, rows=[1])  # other settings: recomputed
    assert calls == [2, 1, 1]
    with pytest.raises(ValueError, match="rows"):
        load_or_compute_buckling(tmp_path, adj, off, rows=[6])


def test_buckling_cache_keeps_rows_another_process_wrote_meanwhile(arrays, tmp_path, monkeypatch):
    import trussvae.data.physics as physics

    adj, off = arrays[0][:6], arrays[1][:6]
    load_or_compute_buckling(tmp_path, adj, off, rows=[1])
    real = physics.buckling_features
    other, calls = [], []

    def compute(a, o, fe=None, kind="buckling"):
        calls.append(len(a))
        if not other:  # another writer fills row 3 after this one has read the cache, before it writes
            other.append(True)
            load_or_compute_buckling(tmp_path, adj, off, rows=[3])
        return real(a, o, fe, kind)

    monkeypatch.setattr(physics, "buckling_features", compute)
    both = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 3], log_every=1)
    assert np.all(np.isfinite(both[[0, 3]])) and calls == [1, 1]  # row 3: by the other writer only
    with np.load(buckling_feature_path(tmp_path)) as z:
        np.testing.assert_array_equal(np.flatnonzero(z["done"]), [0, 1, 3])
        assert np.all(np.isfinite(z["features"][[0, 1, 3]]))
    monkeypatch.setattr(physics, "buckling_features", lambda *a, **k: pytest.fail("all rows are cached"))
    load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 3])


def test_second_order_buckling_features_extend_the_first_order_ones(arrays, tmp_path):
    adj, off = arrays[0][:4], arrays[1][:4]
    first = buckling_features(adj, off)
    second = buckling_features(adj, off, kind="buckling2")
    assert second.shape == (4, len(BUCKLING2_NAMES)) == (4, 8)
    np.testing.assert_allclose(second[:, :4], first, rtol=1e-10)  # eigh vs eigvalsh: round-off
    assert np.all(second[:, 4] > 0) and np.all(second[:, 4] <= BUCKLING_STRAIN_CAP)
    assert np.all((second[:, 6] >= 0) & (second[:, 6] <= 1)) and np.all(second[:, 7] == np.round(second[:, 7]))
    cached = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 2], kind="buckling2")
    np.testing.assert_allclose(cached[[0, 2]], second[[0, 2]], rtol=1e-6)  # the cache stores float32 offsets
    assert buckling_feature_path(tmp_path, "buckling2").is_file() and not buckling_feature_path(tmp_path).is_file()
    for bad in ("none", "eigen"):
        with pytest.raises(ValueError, match="kind"):
            buckling_features(adj, off, kind=bad)


def test_buckling_settings_come_from_the_nonlinear_labels_meta():
    meta = {"labels": {"linear": {"fe": {"relative_density": 0.1}},
                       "nonlinear": {"fe": {"relative_density": 0.2, "imperfection": 0.002, "seed": 4,
                                            "confined": True, "max_strain": 0.2}}}}
    assert buckling_fe_settings(meta) == {"E_s": 1.0, "nu_s": 0.3, "beam": "timoshenko", "relative_density": 0.2,
                                          "confined": True, "imperfection": 0.002, "seed": 4}
    assert buckling_fe_settings({}) == complete_buckling_fe(None)
    assert complete_buckling_fe(None)["imperfection"] == 1e-3
    with pytest.raises(ValueError, match="beam"):
        buckling_features(np.zeros((1, 351)), np.zeros((1, 27)), {"beam": "rigid"})


def test_redistribution_of_the_simple_cubic_cell_is_its_column_buckling():
    """Simple cubic under e3: the vertical strut carries all the axial energy (the horizontal ones are unloaded)
    and passes its pinned Euler strain pi^2 r^2 / (4 L^2) (fixed ends: 4x) between two label strains."""
    from trussvae.generation.elementary import elementary

    graph = elementary("simple_cubic")
    frame = graph.to_frame(0.15)
    adj, off = graph_to_arrays(graph)
    f = redistribution_features(adj[None], off[None])
    assert f.shape == (1, len(REDISTRIBUTION_NAMES)) == (1, 2 * len(LABEL_STRAINS) + 2)
    r, length = frame.radii()[0], frame.strut_lengths()[0]
    eps_e = np.pi**2 * r**2 / (4 * length**2)
    k = len(LABEL_STRAINS)
    # (the horizontal struts carry ~1e-11 of the axial energy: the imperfection)
    np.testing.assert_allclose(f[0, :k], (LABEL_STRAINS > eps_e).astype(float), atol=1e-9)
    np.testing.assert_allclose(f[0, k:2 * k], (LABEL_STRAINS > 4 * eps_e).astype(float), atol=1e-9)
    assert 0.0 < f[0, :k].sum() < k  # the pinned Euler strain lies inside the label range
    # stretch dominated along e3: E3 = E_s A / L^2 (to the imperfection's 1e-3 of the strut length)
    assert f[0, -2] == pytest.approx(1.0, rel=1e-4)
    assert f[0, -1] == pytest.approx(np.log(eps_e), abs=1e-4)  # the vertical strut shortens at rate 1 (to 1e-5)


def test_redistribution_features_of_generated_cells(arrays):
    adj, off = arrays[0][:6], arrays[1][:6]
    f = redistribution_features(adj, off)
    k = len(LABEL_STRAINS)
    assert np.all(np.isfinite(f))
    shares = f[:, :2 * k]
    assert np.all((shares >= 0) & (shares <= 1 + 1e-12))
    # more struts pass their Euler strain as the strain grows; fixed ends later than pinned ones
    assert np.all(np.diff(f[:, :k], axis=1) >= 0) and np.all(np.diff(f[:, k:2 * k], axis=1) >= 0)
    assert np.all(f[:, k:2 * k] <= f[:, :k])
    assert np.all((f[:, -2] > 0) & (f[:, -2] <= 1 + 1e-4))  # axial energy is part of the cell's energy
    # the axial share is what the cell stores in stretching: below 1 for these bending-dominated cells
    assert np.all(f[:, -2] < 0.999)
    bad = adj[:2].copy()
    bad[0] = 0  # no strut
    g = redistribution_features(bad, off[:2])
    assert np.all(np.isnan(g[0])) and np.array_equal(g[1], f[1])


def test_redistribution_kind_is_the_second_order_cache_and_its_own_columns(arrays, tmp_path, monkeypatch):
    """kind="redistribution": the 8 buckling2 columns then the 28 redistribution ones; its cache reuses the
    buckling2 cache (not recomputed) and keeps its own columns in features/redistribution.npz."""
    import trussvae.data.physics as physics

    adj, off = arrays[0][:5], arrays[1][:5]
    f = buckling_features(adj[:3], off[:3], kind="redistribution")
    assert f.shape == (3, len(BUCKLING2_NAMES) + len(REDISTRIBUTION_NAMES)) == (3, 36)
    np.testing.assert_array_equal(f[:, :8], buckling_features(adj[:3], off[:3], kind="buckling2"))
    np.testing.assert_array_equal(f[:, 8:], redistribution_features(adj[:3], off[:3]))
    b2 = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 2], kind="buckling2")

    def no_buckling(*a, **k):
        raise AssertionError("the buckling2 columns must come from their cache")

    monkeypatch.setattr(physics, "linear_buckling", no_buckling)
    g = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 2], kind="redistribution")
    assert g.shape == (5, 36) and np.all(np.isnan(g[3:]))
    np.testing.assert_allclose(g[:3], f, rtol=1e-6, atol=1e-9)  # (the cache takes the offsets as float32)
    np.testing.assert_array_equal(g[:3, :8], b2[:3])
    assert buckling_feature_path(tmp_path, "redistribution").is_file()
    with np.load(buckling_feature_path(tmp_path, "redistribution")) as z:
        assert z["features"].shape == (5, 28)


def test_postbuckling_features_are_the_buckled_strut_secants(arrays, tmp_path, monkeypatch):
    """(n, 26) secant ratios of the sequentially linear curve: 1 before the first strut buckles, falling, fixed
    ends above pinned ones; NaN for a non-frame. kind="postbuckling": the 36 redistribution columns (from their
    caches, not recomputed) then these 26, cached in features/postbuckling.npz."""
    import trussvae.data.physics as physics
    from trussvae.fem.strut_buckling import strut_buckling_curves

    adj, off = arrays[0][:5], arrays[1][:5]
    f = postbuckling_features(adj[:3], off[:3])
    k = len(LABEL_STRAINS)
    assert f.shape == (3, len(POSTBUCKLING_NAMES)) == (3, 2 * k)
    assert np.all((f > 0) & (f <= 1 + 1e-12))
    assert np.all(np.diff(f[:, :k], axis=1) <= 1e-12) and np.all(np.diff(f[:, k:], axis=1) <= 1e-12)
    assert np.all(f[:, :k] <= f[:, k:] + 1e-9)
    res = strut_buckling_curves(arrays_to_graph(adj[1] > 0.5, off[1]).to_frame(0.15))
    np.testing.assert_allclose(f[1], (res.stress / (res.initial_modulus * LABEL_STRAINS)).ravel(), rtol=1e-12)
    bad = adj[:2].copy()
    bad[0] = 0
    g = postbuckling_features(bad, off[:2])
    assert np.all(np.isnan(g[0])) and np.array_equal(g[1], f[1])

    full = buckling_features(adj[:3], off[:3], kind="postbuckling")
    assert full.shape == (3, 62)
    np.testing.assert_array_equal(full[:, 36:], f)
    red = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 2], kind="redistribution")

    def no_recompute(*a, **k):
        raise AssertionError("the redistribution columns must come from their caches")

    monkeypatch.setattr(physics, "linear_buckling", no_recompute)
    monkeypatch.setattr(physics, "strut_compression_rates", no_recompute)
    h = load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 2], kind="postbuckling")
    assert h.shape == (5, 62) and np.all(np.isnan(h[3:]))
    np.testing.assert_array_equal(h[:3, :36], red[:3])
    np.testing.assert_allclose(h[:3, 36:], f, rtol=1e-6, atol=1e-9)  # (the cache takes the offsets as float32)
    with np.load(buckling_feature_path(tmp_path, "postbuckling")) as z:
        assert z["features"].shape == (5, 26)
    # cached: not recomputed; a cache of another version of the computation is
    calls = []
    monkeypatch.setattr(physics, "postbuckling_features",
                        lambda a, o, fe: calls.append(len(a)) or np.zeros((len(a), 26)))
    np.testing.assert_array_equal(load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 2], kind="postbuckling"), h)
    assert calls == []
    monkeypatch.setitem(physics._FEATURE_VERSIONS, "postbuckling", physics._FEATURE_VERSIONS["postbuckling"] + 1)
    assert np.all(load_or_compute_buckling(tmp_path, adj, off, rows=[0, 1, 2], kind="postbuckling")[:3, 36:] == 0)
    assert sum(calls) == 3
