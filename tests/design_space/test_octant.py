"""The 27-node octant template: node order, DOF constraints, offset maps, mirror maps."""

import numpy as np
import pytest

from trussvae.design_space import TrussGraph, octant

VERTEX_IDX = list(range(8))
EDGE_IDX = list(range(8, 20))
FACE_IDX = list(range(20, 26))
BODY_IDX = [26]


# ----------------------------------------------------------------------------- node order
def test_node_names_and_types_in_fixed_order():
    assert octant.N_NODES == 27
    assert octant.NODE_NAMES[:8] == tuple(f"v{i}" for i in range(8))
    assert octant.NODE_NAMES[8:20] == tuple(f"e{i}" for i in range(12))
    assert octant.NODE_NAMES[20:26] == tuple(f"f{i}" for i in range(6))
    assert octant.NODE_NAMES[26] == "t0"
    assert octant.NODE_TYPES.tolist() == [0] * 8 + [1] * 12 + [2] * 6 + [3]
    for k, name in enumerate(octant.NODE_NAMES):
        assert octant.node_index(name) == k


def test_unknown_node_name_raises_keyerror_naming_it():
    with pytest.raises(KeyError, match="x3"):
        octant.node_index("x3")


def test_vertex_positions_follow_hexahedron_numbering():
    # bottom face z=0 counter-clockwise from the origin, then the top face z=1
    expected = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]
    np.testing.assert_array_equal(octant.TEMPLATE_POSITIONS[:8], expected)


@pytest.mark.parametrize(
    "name, position, free_axes",
    [
        ("e0", (0.5, 0, 0), "x"),
        ("e1", (1, 0.5, 0), "y"),
        ("e2", (0.5, 1, 0), "x"),
        ("e3", (0, 0.5, 0), "y"),
        ("e4", (0.5, 0, 1), "x"),
        ("e5", (1, 0.5, 1), "y"),
        ("e6", (0.5, 1, 1), "x"),
        ("e7", (0, 0.5, 1), "y"),
        ("e8", (0, 0, 0.5), "z"),
        ("e9", (1, 0, 0.5), "z"),
        ("e10", (1, 1, 0.5), "z"),
        ("e11", (0, 1, 0.5), "z"),
        ("f0", (0, 0.5, 0.5), "yz"),
        ("f1", (1, 0.5, 0.5), "yz"),
        ("f2", (0.5, 0, 0.5), "xz"),
        ("f3", (0.5, 1, 0.5), "xz"),
        ("f4", (0.5, 0.5, 0), "xy"),
        ("f5", (0.5, 0.5, 1), "xy"),
        ("t0", (0.5, 0.5, 0.5), "xyz"),
        ("v0", (0, 0, 0), ""),
        ("v6", (1, 1, 1), ""),
    ],
)
def test_template_position_and_free_axes_table(name, position, free_axes):
    # the table of the module docstring / docs/design_space.md, written out by hand
    k = octant.node_index(name)
    np.testing.assert_array_equal(octant.TEMPLATE_POSITIONS[k], position)
    assert "".join("xyz"[d] for d in range(3) if octant.FREE_MASK[k, d]) == free_axes


# ----------------------------------------------------------------------------- DOF constraints
def test_free_mask_counts_per_node_type():
    counts = octant.FREE_MASK.sum(axis=1)
    assert set(counts[VERTEX_IDX]) == {0}  # vertices fixed
    assert set(counts[EDGE_IDX]) == {1}  # edge nodes: 1 DOF
    assert set(counts[FACE_IDX]) == {2}  # face nodes: 2 DOF
    assert counts[BODY_IDX].tolist() == [3]  # body node: 3 DOF
    assert octant.N_DOF == 27 == 12 * 1 + 6 * 2 + 1 * 3
    assert octant.DOF_INDEX.shape == (27, 2)


def test_edge_nodes_move_along_their_edge_only():
    for k, (a, b) in enumerate(octant.EDGE_VERTICES):
        va, vb = octant.VERTEX_POSITIONS[a], octant.VERTEX_POSITIONS[b]
        np.testing.assert_array_equal(octant.TEMPLATE_POSITIONS[8 + k], (va + vb) / 2)
        np.testing.assert_array_equal(octant.FREE_MASK[8 + k], va != vb)


def test_face_nodes_move_within_their_face_only():
    for k, (axis, value) in enumerate(octant.FACE_PLANES):
        assert octant.TEMPLATE_POSITIONS[20 + k, axis] == value
        assert not octant.FREE_MASK[20 + k, axis]


def test_offsets_positions_round_trip_and_fixed_coordinates():
    rng = np.random.default_rng(0)
    off = rng.uniform(-0.49, 0.49, size=(5, octant.N_DOF))
    pos = octant.positions_from_offsets(off)
    assert pos.shape == (5, 27, 3)
    np.testing.assert_allclose(octant.offsets_from_positions(pos), off, atol=1e-15)
    fixed = ~octant.FREE_MASK
    np.testing.assert_array_equal(
        pos[:, fixed], np.broadcast_to(octant.TEMPLATE_POSITIONS[fixed], (5, fixed.sum()))
    )
    np.testing.assert_array_equal(octant.positions_from_offsets(np.zeros(27)), octant.TEMPLATE_POSITIONS)


def test_offset_vector_order_is_node_then_axis():
    # entry 0 is e0 (x), entry 12 is f0 (y), entry 13 f0 (z), the last three t0 (x, y, z)
    off = np.zeros(27)
    off[[0, 12, 13, 24, 25, 26]] = [0.1, 0.2, 0.3, 0.11, 0.22, 0.33]
    pos = octant.positions_from_offsets(off)
    np.testing.assert_allclose(pos[octant.node_index("e0")], [0.6, 0, 0])
    np.testing.assert_allclose(pos[octant.node_index("f0")], [0, 0.7, 0.8])
    np.testing.assert_allclose(pos[26], [0.61, 0.72, 0.83])


def _simple_cubic_with(edge_extra=(), positions=None):
    return TrussGraph.from_edges([("v0", "v1"), ("v0", "v3"), ("v0", "v4"), *edge_extra], positions=positions)


@pytest.mark.parametrize(
    "node, new_position, axis",
    [
        ("v1", (0.9, 0.0, 0.0), "x"),  # a vertex moved along an axis
        ("v0", (0.0, 0.0, 0.05), "z"),
        ("e0", (0.5, 0.1, 0.0), "y"),  # an edge node moved off its edge
        ("f4", (0.5, 0.5, 0.2), "z"),  # a face node moved off its face
    ],
)
def test_moving_a_fixed_coordinate_is_a_bounds_violation_naming_the_node(node, new_position, axis):
    pos = octant.TEMPLATE_POSITIONS.copy()
    pos[octant.node_index(node)] = new_position
    extra = [("v0", "e0"), ("e0", "v1")] if node == "e0" else []
    extra += [("v0", "f4"), ("f4", "v1")] if node == "f4" else []
    g = _simple_cubic_with(extra, positions=pos)
    reasons = g.validate()
    assert len(reasons) == 1
    assert f"node {node}:" in reasons[0] and f"coordinate {axis}=" in reasons[0]
    assert [c for c, _ in g.violations()] == ["bounds"]


@pytest.mark.parametrize("offset", [0.5, -0.5, 0.7])
def test_free_offset_outside_open_interval_is_a_bounds_violation(offset):
    g = TrussGraph.from_edges([("v0", "t0"), ("t0", "v6")], offsets={"t0": [0.0, offset, 0.0]})
    (code, reason), *_ = g.violations()
    assert code == "bounds" and "t0" in reason and "along y" in reason


def test_inactive_nodes_may_be_anywhere():
    pos = octant.TEMPLATE_POSITIONS.copy()
    pos[octant.node_index("e5")] = [7.0, -3.0, np.nan]  # e5 has no strut
    pos[octant.node_index("v7")] = [0.3, 0.3, 0.3]
    assert _simple_cubic_with(positions=pos).validate() == []


# ----------------------------------------------------------------------------- adjacency order
def test_triu_pairs_follow_numpy_triu_indices():
    i, j = np.triu_indices(27, k=1)
    np.testing.assert_array_equal(octant.TRIU_PAIRS, np.column_stack([i, j]))
    assert octant.N_EDGES_CANDIDATE == 351 == 27 * 26 // 2
    assert octant.PAIR_INDEX[0, 26] == 25 and octant.PAIR_INDEX[26, 0] == 25  # last pair of row 0
    assert octant.PAIR_INDEX[1, 2] == 26  # first pair of row 1
    assert octant.PAIR_INDEX[25, 26] == 350
    assert (np.diag(octant.PAIR_INDEX) == -1).all()


# ----------------------------------------------------------------------------- mirror maps
def test_number_of_potential_full_cell_nodes_is_64():
    # vertices lie on mirror planes in every axis: 8 x 1 image; edge nodes have one free axis:
    # 12 x 2; face nodes two: 6 x 4; the body node three: 1 x 8.  8 + 24 + 24 + 8 = 64.
    assert octant.N_FULL_NODES == 64
    owners = np.bincount(octant.FULL_NODE_OWNER, minlength=27)
    np.testing.assert_array_equal(owners, 2 ** octant.FREE_MASK.sum(axis=1))


def test_image_maps_reproduce_mirrored_positions():
    # mirror m of an octant node at natural p lands at fractional where(bits, -p, p) / 2, which is
    # full-cell node IMAGE_NODE[k, m] in the cell translated by IMAGE_SHIFT[k, m]
    rng = np.random.default_rng(1)
    pos = octant.positions_from_offsets(rng.uniform(-0.45, 0.45, 27))
    full = octant.full_node_fractional(pos)
    assert full.shape == (64, 3)
    assert np.all((full >= 0) & (full < 1.0))
    for k in range(27):
        for m, bits in enumerate(octant.MIRRORS):
            image = np.where(bits == 1, -pos[k], pos[k]) / 2.0
            np.testing.assert_allclose(
                full[octant.IMAGE_NODE[k, m]] + octant.IMAGE_SHIFT[k, m], image, atol=1e-14
            )


def test_mirror_identity_maps_every_node_to_itself():
    assert octant.MIRRORS[0].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(octant.FULL_NODE_OWNER[octant.IMAGE_NODE[:, 0]], np.arange(27))
    assert not octant.IMAGE_SHIFT[:, 0].any()
