"""Periodic connectivity (components, rank, index) on hand cases."""

import itertools

import numpy as np
import pytest

from trussvae.fem.frame import PeriodicFrame
from trussvae.fem.topology import lattice_index, periodic_rank_and_components

EYE = np.eye(3)
AXES = np.eye(3, dtype=int)
CORNERS = np.array([[-a, -b, -c] for a, b, c in itertools.product([0, 1], repeat=3)])


def conn(n_nodes, struts, shifts):
    return tuple(periodic_rank_and_components(n_nodes, np.asarray(struts), np.asarray(shifts)))


# ----------------------------------------------------------------------------- lattice_index
@pytest.mark.parametrize(
    "vectors, expected",
    [
        (np.eye(3, dtype=int), (3, 1)),
        ([[2, 0, 0], [0, 1, 0], [0, 0, 1]], (3, 2)),
        ([[1, 1, 0], [1, -1, 0], [0, 0, 1]], (3, 2)),  # index 2: points with x + y even
        ([[1, 1, 0], [1, 0, 1], [0, 1, 1]], (3, 2)),  # the FCC sublattice of Z^3
        ([[2, 0, 0], [0, 3, 0], [0, 0, 1], [1, 0, 0]], (3, 3)),  # Z x 3Z x Z
        ([[1, 0, 0], [0, 1, 0]], (2, 0)),
        ([[1, 2, 3], [2, 4, 6], [-1, -2, -3]], (1, 0)),
        ([[0, 0, 0]], (0, 0)),
        (np.zeros((0, 3), dtype=int), (0, 0)),
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [5, -3, 2]], (3, 1)),
    ],
)
def test_lattice_index_hand_cases(vectors, expected):
    assert lattice_index(np.asarray(vectors)) == expected


def test_lattice_index_equals_abs_determinant_for_three_vectors():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = rng.integers(-4, 5, size=(3, 3))
        det = round(np.linalg.det(m))
        expected = (3, abs(det)) if det else (np.linalg.matrix_rank(m), 0)
        assert lattice_index(m) == expected


def test_lattice_index_equals_gcd_of_minors_for_more_vectors():
    # the index of the lattice spanned by k >= 3 vectors is the gcd of all 3x3 minors
    rng = np.random.default_rng(1)
    for _ in range(100):
        m = rng.integers(-3, 4, size=(5, 3))
        minors = [round(abs(np.linalg.det(m[list(c)]))) for c in itertools.combinations(range(5), 3)]
        g = int(np.gcd.reduce(minors))
        rank = np.linalg.matrix_rank(m)
        assert lattice_index(m) == (rank, g if rank == 3 else 0)


# ----------------------------------------------------------------------------- components / rank
def test_simple_cubic_rank_3_index_1():
    assert conn(1, [[0, 0]] * 3, AXES) == (1, 3, 1)


def test_only_x_struts_rank_1():
    assert conn(1, [[0, 0]], [[1, 0, 0]]) == (1, 1, 0)
    # a chain along x through two nodes
    assert conn(2, [[0, 1], [1, 0]], [[0, 0, 0], [1, 0, 0]]) == (1, 1, 0)


def test_planar_square_grid_rank_2():
    assert conn(1, [[0, 0]] * 2, AXES[:2]) == (1, 2, 0)


def test_finite_cluster_rank_0():
    assert conn(2, [[0, 1]], [[0, 0, 0]]) == (1, 0, 0)


def test_bcc_connected():
    assert conn(2, [[0, 1]] * 8, CORNERS) == (1, 3, 1)


def test_two_interpenetrating_simple_cubic_lattices():
    # nodes at 0 and at the cell centre, each with its own simple cubic struts, none between them
    struts = [[0, 0]] * 3 + [[1, 1]] * 3
    shifts = np.vstack([AXES, AXES])
    assert conn(2, struts, shifts) == (2, 3, 1)
    frame = PeriodicFrame(EYE, [[0, 0, 0], [0.5, 0.5, 0.5]], struts, shifts)
    assert frame.periodic_connectivity() == (2, 3, 1)
    assert not periodic_rank_and_components(2, np.asarray(struts), shifts).spanning


def test_index_two_interpenetrating_copies_of_one_quotient_component():
    # one node, struts to (1,1,0), (1,-1,0), (0,0,1): the tessellation splits into the points with
    # x + y even and those with x + y odd -> two interpenetrating copies (index 2)
    c = periodic_rank_and_components(1, np.zeros((3, 2), int), np.array([[1, 1, 0], [1, -1, 0], [0, 0, 1]]))
    assert tuple(c) == (1, 3, 2)
    assert (c.n_components, c.rank, c.index) == (1, 3, 2) and not c.spanning
    # adding the x strut joins the copies
    c2 = periodic_rank_and_components(
        1, np.zeros((4, 2), int), np.array([[1, 1, 0], [1, -1, 0], [0, 0, 1], [1, 0, 0]])
    )
    assert tuple(c2) == (1, 3, 1) and c2.spanning


def test_index_two_with_two_nodes():
    # two nodes whose x struts both jump one cell: a -> b + (1,0,0) -> a + (2,0,0), so every cycle
    # has an even x component; with the y and z struts of each node the index is 2
    struts = [[0, 1], [1, 0], [0, 0], [0, 0], [1, 1], [1, 1]]
    shifts = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert conn(2, struts, shifts) == (1, 3, 2)


def test_isolated_nodes_are_ignored():
    assert conn(5, [[0, 0]] * 3, AXES) == (1, 3, 1)
    assert conn(3, np.zeros((0, 2), int), np.zeros((0, 3), int)) == (0, 0, 0)


def test_rank_reported_for_the_largest_component():
    # a 3-node simple cubic-ish component (rank 3) and a single-node x chain (rank 1)
    struts = [[0, 1], [1, 2], [2, 0], [0, 0], [0, 0], [3, 3]]
    shifts = [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert conn(4, struts, shifts) == (2, 3, 1)
