"""The evaluator (trussvae.design.evaluate): FE settings, cache, design identity, rank key."""

import numpy as np
import pytest

from trussvae.design.evaluate import Evaluator, design_id, fe_properties, rank_key
from trussvae.design.targets import CurveObjective, named_target, objective_from_spec
from trussvae.design_space import TrussGraph, octant
from trussvae.fem import homogenize
from trussvae.fem.settings import LinearFESettings, NonlinearFESettings
from trussvae.generation import generate_structures

#: nonlinear settings that differ from the defaults in every field
CUSTOM_NONLINEAR = dict(relative_density=0.12, E_s=2.0, nu_s=0.25, beam="euler_bernoulli", max_strain=0.3,
                        confined=True, imperfection=2e-3, seed=5, time_limit=30.0)


@pytest.fixture(scope="module")
def graphs():
    return generate_structures(6, seed=3)


def _same_lattice_other_offsets(g: TrussGraph) -> TrussGraph:
    """The same lattice with other offsets of its inactive nodes (another representation)."""
    x = g.offsets.copy()
    inactive = ~g.active[octant.DOF_INDEX[:, 0]]
    assert inactive.any()
    x[inactive] = 0.1
    return TrussGraph.from_offsets(g.adjacency, x)


def test_design_id_is_the_lattice_not_its_representation(graphs):
    g = graphs[0]
    twin = _same_lattice_other_offsets(g)
    assert not np.array_equal(twin.offsets, g.offsets)
    assert design_id(twin) == design_id(g) == g.canonical_hash()
    assert design_id(graphs[1]) != design_id(g)


def test_rank_key_puts_feasible_first_then_the_loss():
    keys = [rank_key(-1.0, False), rank_key(0.5, True), rank_key(-2.0, True), rank_key(np.inf, True)]
    assert sorted(range(4), key=keys.__getitem__) == [2, 1, 0, 3]


def test_evaluator_caches_by_design_identity(graphs):
    ev = Evaluator(named_target("stiff"))
    first = ev.evaluate(graphs[:3])
    assert first.n_fe == 3 and ev.n_fe_runs == 3
    for g, C in zip(graphs[:3], first.props):
        np.testing.assert_allclose(C, homogenize(g.to_frame(relative_density=0.15)), rtol=1e-9)
    again = ev.evaluate([_same_lattice_other_offsets(graphs[0]), graphs[2], graphs[3], graphs[3]])
    assert again.n_fe == 1 and ev.n_fe_runs == 4  # only graphs[3], once
    np.testing.assert_array_equal(again.props[0], first.props[0])
    np.testing.assert_array_equal(again.props[2], again.props[3])
    fresh = Evaluator(named_target("stiff"), cache=False)  # no memory across calls; one FE run per design per call
    assert fresh.evaluate([graphs[0], graphs[0]]).n_fe == 1 and fresh.evaluate([graphs[0]]).n_fe == 1


def test_evaluator_loss_feasibility_and_invalid_designs(graphs):
    C = np.array([homogenize(g.to_frame(relative_density=0.15)) for g in graphs])
    E11 = np.array([named_target("stiff", quantity="E11").value(c) for c in C])
    bar = float(np.median(E11))
    obj = objective_from_spec({"name": "stiff", "constraints": [{"quantity": "E11", "lower": bar}]})
    bad = graphs[0].replace(adjacency=np.eye(27, dtype=bool))
    ev = Evaluator(obj).evaluate([*graphs, bad, None])
    assert ev.n_fe == len(graphs)
    np.testing.assert_array_equal(ev.feasible, [*(E11 >= bar), False, False])
    np.testing.assert_allclose(ev.loss[:-2], [obj.loss(c) for c in C])
    assert np.all(np.isinf(ev.loss[-2:])) and np.isnan(ev.props[-2:]).all()
    keys = ev.rank_keys()
    best = min(range(len(keys)), key=keys.__getitem__)
    assert ev.feasible[best] and ev.loss[best] == ev.loss[ev.feasible].min()


def test_evaluator_refuses_settings_of_the_other_kind():
    curve = CurveObjective("curve", tuple(np.linspace(0, 1e-3, 13)))
    with pytest.raises(ValueError, match="NonlinearFESettings"):
        Evaluator(curve, LinearFESettings())
    with pytest.raises(ValueError, match="LinearFESettings"):
        Evaluator(named_target("stiff"), NonlinearFESettings())
    with pytest.raises(ValueError, match="n_jobs"):
        Evaluator(named_target("stiff"), n_jobs=0)
    assert Evaluator(curve).fe == NonlinearFESettings()
    ev = Evaluator(curve)
    assert Evaluator.of(ev) is ev
    with pytest.raises(ValueError, match="not both"):
        Evaluator.of(ev, NonlinearFESettings())


def test_curve_evaluation_uses_every_nonlinear_setting(graphs):
    """All nonlinear settings reach the FE analysis (not only E_s, nu_s and beam)."""
    g = generate_structures(10, seed=3)[3]  # cheap nonlinear analysis
    custom = NonlinearFESettings(**CUSTOM_NONLINEAR)
    ref, ok, _ = custom.evaluate([g.to_frame(relative_density=custom.relative_density)])
    assert ok[0]
    curve = CurveObjective("curve", tuple(1.1 * ref[0]))
    props, n = Evaluator(curve, custom).props([g])
    assert n == 1
    np.testing.assert_array_equal(props[0], ref[0])
    default = fe_properties([g], NonlinearFESettings())[0]
    assert np.all(np.isfinite(default)) and not np.allclose(default, ref[0], rtol=1e-3)
    # each setting beyond the material matters on its own (else the check above could miss one)
    # (max_strain: below the last label strain, 0.245, the curve ends early)
    for name, value in (("confined", True), ("imperfection", 2e-3), ("seed", 5), ("max_strain", 0.2)):
        one = fe_properties([g], NonlinearFESettings(**{name: value}))[0]
        assert not np.array_equal(one, default, equal_nan=True), name
