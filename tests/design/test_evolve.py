"""The FE-driven evolutionary search (trussvae.design.evolve)."""

import numpy as np
import pytest

from trussvae.design.evolve import evolve
from trussvae.design.targets import named_target
from trussvae.fem import homogenize
from trussvae.generation import generate_structures


@pytest.fixture(scope="module")
def seeds():
    return generate_structures(6, seed=3)


@pytest.fixture(scope="module")
def run(seeds):
    return evolve(seeds, named_target("stiff"), generations=4, population=8, offspring=8, seed=1)


def test_evolve_improves_on_the_seeds_and_values_are_fe(seeds, run):
    obj = named_target("stiff")
    seed_best = max(obj.value(homogenize(g.to_frame(relative_density=0.15))) for g in seeds)
    assert run.best_value_history[0] == pytest.approx(seed_best, rel=1e-9)
    assert all(b >= a for a, b in zip(run.best_value_history, run.best_value_history[1:]))  # elitist
    assert run.best_value_history[-1] > seed_best
    assert run.n_generations == 4 and run.n_fe_evaluations == len(seeds) + 4 * 8
    assert len(run.graphs) <= 8 and list(run.losses) == sorted(run.losses)
    for g, p in zip(run.graphs[:3], run.props[:3]):
        assert g.validate() == []
        np.testing.assert_allclose(p, homogenize(g.to_frame(relative_density=0.15)), rtol=1e-9)
    assert obj.value(run.props[0]) == pytest.approx(run.best_value_history[-1], rel=1e-12)


def test_evolve_is_deterministic_and_limits_copies_of_a_topology(seeds, run):
    again = evolve(seeds, named_target("stiff"), generations=4, population=8, offspring=8, seed=1)
    assert again.best_value_history == run.best_value_history
    assert [g.canonical_hash() for g in again.graphs] == [g.canonical_hash() for g in run.graphs]
    one = evolve(seeds, named_target("stiff"), generations=3, population=8, offspring=8, seed=1, max_per_topology=1)
    strut_sets = [g.adjacency.tobytes() for g in one.graphs]
    assert len(strut_sets) == len(set(strut_sets))


def test_evolve_uses_known_seed_properties(seeds):
    obj = named_target("stiff")
    C = np.array([homogenize(g.to_frame(relative_density=0.15)) for g in seeds])
    res = evolve(seeds, obj, generations=0, seed_props=C)
    assert res.n_fe_evaluations == 0 and res.n_generations == 0
    assert res.best_value_history == [pytest.approx(max(obj.value(c) for c in C))]


def test_evolve_ranks_feasible_designs_first(seeds):
    from trussvae.design.targets import objective_from_spec
    from trussvae.fem.elasticity import youngs_moduli

    E11 = [youngs_moduli(homogenize(g.to_frame(relative_density=0.15)))[0] for g in seeds]
    bar = float(np.median(E11))  # about half of the seeds are infeasible
    obj = objective_from_spec({"name": "stiff", "constraints": [{"quantity": "E11", "lower": bar}]})
    res = evolve(seeds, obj, generations=1, population=40, offspring=6, seed=0)  # all kept
    assert res.feasible[0] and not res.feasible.all()
    assert list(res.feasible) == sorted(res.feasible, reverse=True)  # feasible (True) first
    assert all(bool(obj.feasible(p)) == f for p, f in zip(res.props, res.feasible))


def test_evolve_bad_input(seeds):
    obj = named_target("stiff")
    with pytest.raises(ValueError, match="population"):
        evolve(seeds, obj, population=0)
    with pytest.raises(ValueError, match="mutation_scales"):
        evolve(seeds, obj, mutation_scales=(0.01, -1.0))
    with pytest.raises(ValueError, match="none of the 1 seeds"):
        evolve([seeds[0].replace(adjacency=np.eye(27, dtype=bool))], obj)


def test_evolve_config_and_shared_evaluator(seeds):
    from trussvae.design.evaluate import Evaluator
    from trussvae.design.evolve import EvolveConfig

    cfg = EvolveConfig(generations=2, population=8, offspring=4)
    ev = Evaluator(named_target("stiff"))
    res = evolve(seeds, ev, seed=1, **cfg.kwargs())
    assert res.n_generations == 2 and res.n_fe_evaluations == ev.n_fe_runs == len(seeds) + 2 * 4
    again = evolve(seeds, ev, seed=1, **cfg.kwargs())  # every design is in the evaluator's cache
    assert again.n_fe_evaluations == 0 and again.best_value_history == res.best_value_history
    for bad, match in (({"generations": -1}, "evolve.generations"), ({"offspring": 0}, "evolve.offspring"),
                       ({"time_limit": 0}, "evolve.time_limit")):
        with pytest.raises(ValueError, match=match):
            EvolveConfig(**bad)
