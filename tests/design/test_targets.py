"""Design targets agree with the elasticity module, in numpy and torch."""

import numpy as np
import pytest
import torch

from trussvae.design.targets import Constraint, Objective, Term, named_target, nrmse, quantity
from trussvae.fem import elasticity as el


@pytest.fixture()
def C():
    rng = np.random.default_rng(0)
    v = np.abs(rng.normal(0.02, 0.005, 9))
    v[[1, 2, 4]] *= 0.3
    return el.stiffness_from_orthotropic(v)


def test_quantities_match_elasticity_module(C):
    np.testing.assert_allclose([quantity(q, C) for q in ("E11", "E22", "E33")], el.youngs_moduli(C))
    np.testing.assert_allclose([quantity(q, C) for q in ("G23", "G13", "G12")], el.shear_moduli(C))
    nu = el.poisson_ratios(C)
    assert quantity("nu21", C) == pytest.approx(nu[1, 0])
    assert quantity("nu13", C) == pytest.approx(nu[0, 2])
    assert quantity("K_V/G_V", C) == pytest.approx(el.voigt_bulk_modulus(C) / el.voigt_shear_modulus(C))
    assert quantity("C2323", C) == C[3, 3]


def test_torch_and_numpy_agree_and_gradients_flow(C):
    t = torch.tensor(C, requires_grad=True)
    for q in ("E22", "nu21", "K_V/G_V"):
        val = quantity(q, t)
        assert float(val.detach()) == pytest.approx(float(quantity(q, C)))
    quantity("nu21", t).backward()
    assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_objectives_and_constraints(C):
    stiff = named_target("stiff")
    assert stiff.sense == "maximize" and stiff.value(C) == pytest.approx(quantity("E22", C))
    assert stiff.loss(C) == pytest.approx(-quantity("E22", C))
    aux = named_target("auxetic")
    assert aux.sense == "minimize" and aux.better(-2.0, -1.0)
    match = named_target("stiffness", values={"C1111": float(C[0, 0]) * 1.1})
    assert match.value(C) == pytest.approx(0.1 / 1.1)
    con = Objective("x", (Term("E22"),), (Constraint("E11", lower=10.0),))
    assert not con.feasible(C) and con.loss(C) > stiff.loss(C)
    assert Objective("y", (Term("E22"),), (Constraint("E11", lower=1e-9),)).feasible(C)


@pytest.mark.parametrize("name, floors", [("auxetic", {"E11": 0.002, "E22": 0.002}), ("pentamode", {"K_V": 0.005})])
def test_shipped_targets_have_stiffness_floors_that_lift_in_one_line(name, floors):
    """conf/target/{auxetic,pentamode}.yaml keep designs off near-mechanisms; target.floors=null lifts it."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from trussvae.design.targets import objective_from_spec
    from trussvae.fem.elasticity import isotropic_stiffness

    conf = Path(__file__).resolve().parents[2] / "conf" / "target" / f"{name}.yaml"
    spec = OmegaConf.to_container(OmegaConf.load(conf))
    obj = objective_from_spec(spec)
    assert {c.quantity: c.lower for c in obj.constraints} == floors
    soft = isotropic_stiffness(1e-4, 0.3)  # a near-mechanism: every modulus far below the floors
    assert not obj.feasible(soft) and obj.feasible(isotropic_stiffness(0.05, 0.3))
    spec_more = {**spec, "constraints": [{"quantity": "G12", "lower": 1e-3}]}
    assert len(objective_from_spec(spec_more).constraints) == len(floors) + 1  # constraints add to the floors
    lifted = objective_from_spec(OmegaConf.to_container(OmegaConf.merge(OmegaConf.load(conf),
                                                                        OmegaConf.from_dotlist(["floors=null"]))))
    assert lifted.constraints == () and lifted.feasible(soft)
    with pytest.raises(ValueError, match="floor"):
        objective_from_spec({**spec, "floors": [{"quantity": "E11", "upper": 0.1}]})


def test_bad_targets():
    with pytest.raises(KeyError, match="unknown target"):
        named_target("squishy")
    with pytest.raises(ValueError, match="unknown quantity"):
        Term("E44")
    with pytest.raises(ValueError, match="needs values"):
        named_target("stiffness")
    with pytest.raises(ValueError, match="match"):
        Term("E11", "match")


def test_nrmse():
    target = np.linspace(0, 1, 13)
    assert nrmse(target + 0.1, target) == pytest.approx(0.1)
    assert nrmse(target, target) == 0.0
    t = torch.tensor(np.stack([target, 2 * target]))
    np.testing.assert_allclose(nrmse(t + 0.1, t).numpy(), [0.1, 0.05])
