"""Elementary lattices and the octant -> full periodic cell mirroring (`TrussGraph.to_frame`)."""

import itertools

import numpy as np
import pytest

from trussvae.design_space import TrussGraph, octant
from trussvae.generation.elementary import ELEMENTARY_NAMES, elementary

MIRROR_BITS = np.array(list(itertools.product([0, 1], repeat=3)))

# Full-cell counts by hand (cell side 1, octant = fractional [0, 0.5]^3, v0 at the origin, v6 at
# the cell centre; vertices sit on mirror planes, so each vertex is ONE full-cell node):
#  simple_cubic  octant struts v0-v1, v0-v3, v0-v4 to the octant's far vertices at 0.5 along
#                x, y, z. Mirroring adds v0-(-0.5,0,0) etc., which end at the periodic images
#                of the same three nodes: nodes {0, x/2, y/2, z/2} = 4, struts 2 per axis = 6,
#                all of length 0.5 (lattice constant 1, each strut split once at 0.5).
#  bcc           one diagonal v0-v6; its 8 mirror images join the origin to the 8 images
#                (+-0.5, +-0.5, +-0.5) of the single centre node: 2 nodes, 8 struts.
#  octet         FCC nodes v0, v2, v5, v7 = origin + the 3 face centres of the cell: 4 nodes;
#                each has 12 nearest neighbours at distance sqrt(2)/2: 4 * 12 / 2 = 24 struts.
#  *_2x2x2       the same lattice with half the lattice constant (cell side 0.5):
#                simple cubic 8 nodes (the 8 octant corners) * 3 struts = 24;
#                bcc 8 corners + 8 body-centre images (t0 is mirrored into every octant) = 16
#                nodes, 8 struts per body centre = 64;
#                octet 8 cells * 4 FCC nodes = 32 nodes, 32 * 12 / 2 = 192 struts.
EXPECTED = {
    "simple_cubic": (4, 6, 0.5),
    "bcc": (2, 8, np.sqrt(3) / 2),
    "octet": (4, 24, np.sqrt(2) / 2),
    "simple_cubic_2x2x2": (8, 24, 0.5),  # the octant edges
    "bcc_2x2x2": (16, 64, np.sqrt(3) / 4),
    "octet_2x2x2": (32, 192, np.sqrt(2) / 4),
}
OCTANT_STRUTS = {
    "simple_cubic": 3,
    "bcc": 1,
    "octet": 6,
    "simple_cubic_2x2x2": 12,
    "bcc_2x2x2": 8,
    "octet_2x2x2": 6 * 4 + 12,
}  # octet_2x2x2: 4 vertices per face + 12 face-face pairs


def _canonical_segments(a, b):
    """Segments (a, b) (fractional, unwrapped) as (S, 6): lexicographically smaller end first, in [0,1)^3."""
    a, b = np.round(a, 9) + 0.0, np.round(b, 9) + 0.0
    first_a = np.array([tuple(x) <= tuple(y) for x, y in zip(a, b)])
    lo = np.where(first_a[:, None], a, b)
    hi = np.where(first_a[:, None], b, a)
    cell = np.floor(lo + 1e-9)
    return np.concatenate([lo - cell, hi - cell], axis=1)


def _segments(frame):
    a = frame.nodes[frame.struts[:, 0]]
    b = frame.nodes[frame.struts[:, 1]] + frame.shifts
    return a, b


def _same_segment_sets(s1, s2, tol=1e-7):
    if s1.shape != s2.shape:
        return False
    d = np.abs(s1[:, None, :] - s2[None, :, :]).max(axis=2)
    return bool((d.min(axis=1) < tol).all() and (d.min(axis=0) < tol).all())


def assert_mirror_symmetric(frame):
    """The full cell maps onto itself (nodes and struts) under x->-x, y->-y, z->-z (mod 1)."""
    a, b = _segments(frame)
    base = _canonical_segments(a, b)
    for bits in MIRROR_BITS:
        sign = np.where(bits == 1, -1.0, 1.0)
        img = np.mod(frame.nodes * sign, 1.0)
        d = np.abs(img[:, None, :] - frame.nodes[None, :, :])
        d = np.minimum(d, 1.0 - d).max(axis=2)  # periodic distance
        assert (d.min(axis=1) < 1e-9).all(), f"mirror {bits}: a node image is not a frame node"
        assert _same_segment_sets(_canonical_segments(a * sign, b * sign), base), f"mirror {bits}: struts"


def test_mirror_check_detects_asymmetry():
    # guard against a vacuous helper: a frame with one strut (0,0,0)-(0.3,0.2,0) is not symmetric
    from trussvae.fem.frame import PeriodicFrame

    f = PeriodicFrame(np.eye(3), [[0, 0, 0], [0.3, 0.2, 0.0]], [[0, 1], [1, 0]], [[0, 0, 0], [1, 0, 0]])
    with pytest.raises(AssertionError):
        assert_mirror_symmetric(f)


@pytest.mark.parametrize("name", ELEMENTARY_NAMES)
def test_full_cell_counts(name):
    n_nodes, n_struts, length = EXPECTED[name]
    g = elementary(name)
    assert g.n_struts == OCTANT_STRUTS[name]
    frame = g.to_frame()
    assert (frame.n_nodes, frame.n_struts) == (n_nodes, n_struts)
    np.testing.assert_allclose(frame.strut_lengths(), length)
    np.testing.assert_array_equal(frame.lattice_vectors, np.eye(3))
    assert frame.relative_density() == pytest.approx(0.15)
    assert frame.periodic_connectivity() == (1, 3, 1)
    assert_mirror_symmetric(frame)


@pytest.mark.parametrize("name", ["octet", "octet_2x2x2"])
def test_octet_every_node_has_12_neighbours(name):
    assert set(elementary(name).to_frame().node_degrees()) == {12}


def test_simple_cubic_frame_geometry():
    frame = elementary("simple_cubic").to_frame()
    np.testing.assert_allclose(frame.strut_lengths(), 0.5)
    nodes = sorted(map(tuple, np.round(frame.nodes, 12).tolist()))
    assert nodes == [(0, 0, 0), (0, 0, 0.5), (0, 0.5, 0), (0.5, 0, 0)]
    assert sorted(frame.node_degrees()) == [2, 2, 2, 6]
    # strut vectors: +-0.5 along each axis
    vec = np.round(frame.strut_vectors(), 12)
    assert sorted(map(tuple, np.abs(vec).tolist())) == sorted([(0.5, 0, 0), (0, 0.5, 0), (0, 0, 0.5)] * 2)


def test_bcc_nodes_are_origin_and_centre():
    frame = elementary("bcc").to_frame()
    assert sorted(map(tuple, frame.nodes.tolist())) == [(0, 0, 0), (0.5, 0.5, 0.5)]
    assert sorted(frame.node_degrees()) == [8, 8]


def test_relative_density_and_radius():
    g = elementary("octet")
    f = g.to_frame()
    assert np.ndim(f.radius) == 0
    # rho = pi r^2 sum(L) / V with V = 1 and 24 struts of length sqrt(2)/2
    assert f.radius == pytest.approx(np.sqrt(0.15 / (np.pi * 24 * np.sqrt(2) / 2)))


def test_elementary_unknown_name():
    with pytest.raises(KeyError, match="unknown elementary lattice"):
        elementary("kagome")


def test_elementary_lattices_are_distinct_and_valid():
    graphs = [elementary(n) for n in ELEMENTARY_NAMES]
    assert all(g.is_valid() for g in graphs)
    assert len({g.canonical_hash() for g in graphs}) == 6


# ----------------------------------------------------------------------------- perturbed graphs
def _random_valid_graphs(n_wanted, seed=0, max_tries=400):
    """Elementary lattices (optionally with one extra random strut) with random offsets in (-0.4, 0.4)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(max_tries):
        base = elementary(ELEMENTARY_NAMES[rng.integers(len(ELEMENTARY_NAMES))])
        adj = base.adjacency.copy()
        if rng.random() < 0.7:  # add a strut between a random node and a random active node
            i = int(rng.integers(27))
            j = int(rng.choice(np.flatnonzero(base.active)))
            if i != j:
                adj[i, j] = adj[j, i] = True
        g = TrussGraph.from_offsets(adj, rng.uniform(-0.4, 0.4, octant.N_DOF))
        if g.is_valid():
            out.append(g)
        if len(out) == n_wanted:
            break
    return out


def test_random_perturbed_graphs_are_mirror_symmetric():
    graphs = _random_valid_graphs(8)
    assert len(graphs) == 8
    assert any(g.offsets[g.active[octant.DOF_INDEX[:, 0]]].any() for g in graphs)  # some really moved
    for g in graphs:
        frame = g.to_frame()
        assert_mirror_symmetric(frame)
        assert frame.relative_density() == pytest.approx(0.15)
        # full-cell nodes are images of active octant nodes: (mirror of natural / 2) mod 1
        pos = g.positions[g.active] / 2.0
        images = np.concatenate([np.mod(np.where(b == 1, -pos, pos), 1.0) for b in MIRROR_BITS])
        d = np.abs(frame.nodes[:, None, :] - images[None, :, :])
        assert (np.minimum(d, 1 - d).max(axis=2).min(axis=1) < 1e-9).all()


@pytest.mark.parametrize("name", ["bcc_2x2x2", "octet_2x2x2"])
def test_perturbed_elementary_active_nodes_keep_full_cell_counts(name):
    # the free nodes of these lattices (t0; the face nodes) move off the mirror planes' special
    # positions but keep their number of images, so node/strut counts are unchanged
    rng = np.random.default_rng(7)
    g0 = elementary(name)
    for _ in range(20):
        off = np.where(g0.active[octant.DOF_INDEX[:, 0]], rng.uniform(-0.4, 0.4, 27), 0.0)
        g = TrussGraph.from_offsets(g0.adjacency, off)
        if g.is_valid():
            break
    else:  # pragma: no cover
        pytest.fail("no valid perturbation found")
    frame = g.to_frame()
    assert (frame.n_nodes, frame.n_struts) == EXPECTED[name][:2]
    assert_mirror_symmetric(frame)
    assert g != g0
