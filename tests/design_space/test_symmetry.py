"""The 48 symmetry operations of the design space, checked against TrussGraph and the FE."""

from __future__ import annotations

import numpy as np
import pytest

from trussvae.design_space import TrussGraph, octant
from trussvae.design_space import symmetry as sym
from trussvae.fem import homogenize_many
from trussvae.fem.elasticity import orthotropic_components
from trussvae.generation import generate_structures


@pytest.fixture(scope="module")
def graphs():
    return generate_structures(12, seed=3)


def test_tables_are_permutations():
    assert sym.N_OPERATIONS == 48 and sym.OPERATIONS[sym.IDENTITY] == ((0, 1, 2), (0, 0, 0))
    for k in range(sym.N_OPERATIONS):
        assert sorted(sym.ADJ_SOURCE[k]) == list(range(octant.N_EDGES_CANDIDATE))
        assert sorted(sym.OFFSET_SOURCE[k]) == list(range(octant.N_DOF))
        assert sorted(sym.ORTHOTROPIC_SOURCE[k][:6]) == list(range(6))  # normal block stays the normal block
        assert sorted(sym.ORTHOTROPIC_SOURCE[k][6:]) == [6, 7, 8]
    assert np.array_equal(sym.ADJ_SOURCE[0], np.arange(351)) and np.all(sym.OFFSET_SIGN[0] == 1)
    assert len(sym.operations_fixing_axis(2)) == 16
    with pytest.raises(ValueError, match="not a symmetry operation"):
        sym.operation_index((0, 0, 1))


def test_axis_permutations_match_truss_graph(graphs):
    for g in graphs:
        adj, off = g.to_vae_input("offsets")
        for perm in [(1, 0, 2), (2, 0, 1), (0, 2, 1)]:
            a2, o2 = sym.transform_inputs(adj, off, sym.operation_index(perm))
            ref = g.permute_axes(perm)
            got = TrussGraph.from_vae_input(a2, o2)
            assert got.canonical_hash() == ref.canonical_hash()
            assert np.allclose(got.positions[got.active], ref.positions[ref.active])


def test_mirror_of_a_node_position():
    op = sym.operation_index((0, 1, 2), (1, 0, 0))
    m = sym.node_map((0, 1, 2), (1, 0, 0))
    assert octant.NODE_NAMES[m[octant.node_index("v0")]] == "v1"  # x -> 1 - x swaps v0 and v1
    assert octant.NODE_NAMES[m[octant.node_index("f0")]] == "f1"
    off = np.zeros(octant.N_DOF, np.float32)
    e0x = int(np.flatnonzero((octant.DOF_INDEX == [octant.node_index("e0"), 0]).all(1))[0])
    off[e0x] = 0.2
    _, o2 = sym.transform_inputs(np.zeros(351, np.float32), off, op)
    assert o2[e0x] == pytest.approx(-0.2)  # e0 runs along x: it stays e0, its offset flips


def test_labels_transform_exactly_like_the_fe(graphs):
    """FE of every transformed truss = the transformed FE labels (48 ops, 12 lattices)."""
    frames, expected = [], []
    C0 = orthotropic_components(homogenize_many([g.to_frame(0.15) for g in graphs]))
    for k in range(sym.N_OPERATIONS):
        for g, c in zip(graphs, C0):
            adj, _ = g.to_vae_input("offsets")
            off = np.where(g.active[octant.DOF_INDEX[:, 0]], g.offsets, 0.0)  # float64: exact positions
            frames.append(TrussGraph.from_vae_input(*sym.transform_inputs(adj, off, k)).to_frame(0.15))
            expected.append(sym.transform_orthotropic(c, k))
    got = orthotropic_components(homogenize_many(frames))
    scale = np.abs(np.array(expected)).max(axis=1, keepdims=True)
    assert np.max(np.abs(got - np.array(expected)) / scale) < 1e-9
