"""STL export of printable cells and the FE polish stage."""

import numpy as np
import pytest
import trimesh

from trussvae.design.export import export_stl, frame_to_mesh
from trussvae.design.polish import polish, topology_neighbours
from trussvae.design.targets import CurveObjective, named_target, nrmse
from trussvae.fem import homogenize
from trussvae.fem.elasticity import youngs_moduli
from trussvae.generation import elementary, generate_structures


def test_stl_block_has_the_tessellated_size(tmp_path):
    frame = elementary("simple_cubic_2x2x2").to_frame(relative_density=0.1)
    path = export_stl(frame, tmp_path / "sc.stl", tessellation=(2, 1, 1), scale=10.0)
    mesh = trimesh.load(path)
    r = frame.radius * 10
    np.testing.assert_allclose(mesh.bounds[1] - mesh.bounds[0], [20 + 2 * r, 10 + 2 * r, 10 + 2 * r], rtol=1e-6)
    assert len(mesh.faces) > 1000


def test_stl_bad_tessellation():
    with pytest.raises(ValueError, match="tessellation"):
        frame_to_mesh(elementary("bcc").to_frame(), (0, 1, 1))


def test_polish_improves_fe_value_and_keeps_validity():
    g = generate_structures(5, seed=3)[0]
    obj = named_target("stiff")
    res = polish(g, obj, n_steps=4, topology_moves=False)
    assert res.graph.validate() == []
    np.testing.assert_array_equal(res.graph.adjacency, g.adjacency)  # topology kept
    assert res.value_history[-1] > res.value_history[0]
    C = homogenize(res.graph.to_frame(relative_density=0.15))
    assert youngs_moduli(C)[1] == pytest.approx(res.value_history[-1], rel=1e-9)
    assert all(b <= a for a, b in zip(res.loss_history, res.loss_history[1:]))


def test_topology_neighbours_are_valid_single_strut_edits():
    g = generate_structures(5, seed=3)[1]
    nbrs = topology_neighbours(g)
    assert nbrs
    for n in nbrs:
        assert n.is_valid()
        assert np.sum(n.adjacency != g.adjacency) == 2  # one strut, both triangle halves
        active = n.active & g.active
        np.testing.assert_allclose(n.positions[active], g.positions[active])


def test_polish_topology_moves_beat_offsets_alone():
    g = generate_structures(20, seed=3)[1]
    obj = named_target("pentamode")
    offsets_only = polish(g, obj, n_steps=40, topology_moves=False)
    both = polish(g, obj, n_steps=40)
    assert both.n_topology_moves >= 1
    assert both.graph.is_valid()
    assert both.value_history[-1] > offsets_only.value_history[-1] + 0.5
    C = homogenize(both.graph.to_frame(relative_density=0.15))
    assert obj.value(C) == pytest.approx(both.value_history[-1], rel=1e-9)


def test_polish_curve_objective_by_nonlinear_fe():
    from trussvae.fem.nonlinear import compression_labels

    g = generate_structures(10, seed=3)[3]  # 4 free offsets: a cheap nonlinear FD gradient
    stress, ok, _ = compression_labels([g.to_frame(relative_density=0.15)])
    assert ok[0]
    obj = CurveObjective("curve", tuple(1.1 * stress[0]))
    res = polish(g, obj, n_steps=2, topology_moves=False)
    assert res.value_history[-1] < res.value_history[0]
    check, ok, _ = compression_labels([res.graph.to_frame(relative_density=0.15)])
    assert ok[0] and nrmse(check[0], np.asarray(obj.target)) == pytest.approx(res.value_history[-1], rel=1e-6)
