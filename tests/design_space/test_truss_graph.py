"""`TrussGraph`: construction, bad input, VAE serialisation, JSON, canonical hash."""

import itertools
import json

import numpy as np
import pytest

from trussvae.design_space import TrussGraph, TrussGraphError, octant
from trussvae.generation.elementary import ELEMENTARY_NAMES, elementary

E = TrussGraph.from_edges
SC = [("v0", "v1"), ("v0", "v3"), ("v0", "v4")]
HALF_CELL_SHIFTS = np.array(list(itertools.product([0.0, 0.5], repeat=3)))


def transformed(graph: TrussGraph, fn) -> TrussGraph:
    """Apply a map of the octant onto itself (natural coordinates) that permutes template nodes."""
    target = fn(octant.TEMPLATE_POSITIONS)
    perm = np.array([int(np.flatnonzero(np.all(octant.TEMPLATE_POSITIONS == t, axis=1))[0]) for t in target])
    assert sorted(perm) == list(range(27))  # the map permutes the template
    adj = np.zeros_like(graph.adjacency)
    adj[np.ix_(perm, perm)] = graph.adjacency
    pos = np.empty_like(graph.positions)
    pos[perm] = fn(graph.positions)
    return TrussGraph(adj, pos)


def reflect_x(p):
    p = np.array(p, dtype=float)
    p[:, 0] = 1.0 - p[:, 0]
    return p


def swap_xy(p):
    return np.asarray(p)[:, [1, 0, 2]]


def frame_key(graph):
    return graph.to_frame().canonical_key(translations=HALF_CELL_SHIFTS)


# ----------------------------------------------------------------------------- construction
def test_diagonal_convention_and_symmetry():
    adj = np.zeros((27, 27), dtype=int)
    adj[0, 1] = adj[1, 0] = 1
    g = TrussGraph(adj)
    assert g.adjacency.dtype == bool and g.adjacency.diagonal().all()  # A_ii = 1
    assert g.n_struts == 1 and g.edges.tolist() == [[0, 1]]
    assert g.active.sum() == 2 and g.active[[0, 1]].all()
    np.testing.assert_array_equal(g.positions, octant.TEMPLATE_POSITIONS)


def test_immutable_arrays():
    g = elementary("bcc")
    with pytest.raises(ValueError):
        g.adjacency[0, 2] = True
    with pytest.raises(ValueError):
        g.positions[0, 0] = 0.3


def test_from_edges_with_names_indices_and_offsets():
    g = E([("v0", "t0"), (26, 6)], offsets={"t0": [0.1, -0.2, 0.3], "e0": 0.25})
    assert g.edges.tolist() == [[0, 26], [6, 26]]
    np.testing.assert_allclose(g.positions[26], [0.6, 0.3, 0.8])
    np.testing.assert_allclose(g.positions[8], [0.75, 0, 0])  # inactive nodes keep positions too
    np.testing.assert_allclose(g.offsets[-3:], [0.1, -0.2, 0.3])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TrussGraph(np.eye(26, dtype=bool)), r"adjacency: expected shape \(27, 27\)"),
        (lambda: TrussGraph(np.triu(np.ones((27, 27), dtype=bool))), "not symmetric"),
        (lambda: TrussGraph(2 * np.eye(27)), "0/1"),
        (lambda: TrussGraph(np.full((27, 27), 0.5)), "0/1"),
        (
            lambda: TrussGraph(np.eye(27, dtype=bool), np.zeros((27, 2))),
            r"positions: expected shape \(27, 3\)",
        ),
        (lambda: TrussGraph(np.eye(27, dtype=bool), np.zeros(81)), "positions"),
        (lambda: E([("v0", "v0")]), "invalid strut"),
        (lambda: E([(0, 27)]), "invalid strut"),
        (lambda: E(SC, offsets={"t0": [0.1, 0.2]}), "t0 has 3 DOF"),
        (
            lambda: TrussGraph.from_offsets(np.eye(27, dtype=bool), np.zeros(26)),
            r"offsets: expected shape \(27,\)",
        ),
    ],
)
def test_bad_input_raises_truss_graph_error(make, match):
    with pytest.raises(TrussGraphError, match=match):
        make()


def test_truss_graph_error_is_a_value_error():
    assert issubclass(TrussGraphError, ValueError)


# ----------------------------------------------------------------------------- JSON
def test_json_round_trip_text_and_file(tmp_path):
    g = E([*SC, ("v0", "t0"), ("t0", "v6")], offsets={"t0": [0.1, -0.2, 0.3]})
    text = g.to_json()
    data = json.loads(text)
    assert data["format"] == "trussvae.TrussGraph" and data["design_space"] == "octant27-v1"
    assert ["v0", "t0"] in data["struts"] and len(data["positions"]) == 27
    back = TrussGraph.from_json(text)
    np.testing.assert_array_equal(back.adjacency, g.adjacency)
    np.testing.assert_array_equal(back.positions, g.positions)
    assert back.canonical_hash() == g.canonical_hash() and back == g
    path = tmp_path / "g.json"
    g.to_json(path, indent=2)
    from_file = TrussGraph.from_json(path)
    np.testing.assert_array_equal(from_file.positions, g.positions)
    assert TrussGraph.from_json(str(path)) == g


def _json_with(**changes):
    data = elementary("simple_cubic").to_dict()
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"struts": [["v0", "v1"]], "positions": ', "malformed JSON"),
        ('{"struts": [["v0", "v1"]]}', r"missing key\(s\) \['positions'\]"),
        ('{"positions": []}', "missing key"),
        (_json_with(struts=[["v0", "x9"]]), "unknown template node 'x9'"),
        (_json_with(struts=[["v0", "v1", "v2"]]), "pair of nodes"),
        (_json_with(positions=[[0, 0]] * 27), "positions: expected shape"),
        (_json_with(positions=[[0, "a", 0]] * 27), "malformed"),
        (_json_with(format="trussvae.PeriodicFrame"), "unexpected format"),
    ],
)
def test_bad_json_raises_truss_graph_error(text, match):
    with pytest.raises(TrussGraphError, match=match):
        TrussGraph.from_json(text)


def test_missing_file_raises_truss_graph_error(tmp_path):
    with pytest.raises(TrussGraphError, match="no such file"):
        TrussGraph.from_json(tmp_path / "does_not_exist.json")


def test_non_object_json_raises():
    with pytest.raises(TrussGraphError, match="expected a JSON object"):
        TrussGraph.from_dict([1, 2])


# ----------------------------------------------------------------------------- VAE input
def _sample_graph():
    return E(
        [*SC, ("v0", "t0"), ("t0", "v6"), ("v0", "e9"), ("e9", "v5")],
        offsets={"t0": [0.125, -0.25, 0.375], "e9": -0.125, "f2": [0.3, 0.3]},
    )  # f2 inactive


def test_vae_input_shapes_dtypes_and_order():
    g = _sample_graph()
    adj, off = g.to_vae_input()
    assert adj.shape == (351,) and adj.dtype == np.float32 and off.shape == (27,) and off.dtype == np.float32
    assert adj.sum() == g.n_struts == 7
    assert adj[25] == 1  # pair (0, 26) = v0-t0 is the last entry of row 0 of numpy.triu_indices(27, 1)
    np.testing.assert_array_equal(np.flatnonzero(adj), sorted(octant.PAIR_INDEX[i, j] for i, j in g.edges))
    np.testing.assert_allclose(off[-3:], [0.125, -0.25, 0.375])
    assert off[octant.DOF_INDEX[:, 0].tolist().index(octant.node_index("e9"))] == -0.125
    f2 = octant.DOF_INDEX[:, 0] == octant.node_index("f2")
    assert not off[f2].any()  # inactive node: zero offsets
    adj2, pos = g.to_vae_input("positions")
    assert pos.shape == (81,) and pos.dtype == np.float32
    np.testing.assert_array_equal(adj2, adj)
    np.testing.assert_allclose(pos.reshape(27, 3)[26], [0.625, 0.25, 0.875])
    np.testing.assert_array_equal(pos.reshape(27, 3)[octant.node_index("f2")], [0.5, 0, 0.5])  # template


@pytest.mark.parametrize("features", ["offsets", "positions"])
def test_vae_input_round_trip(features):
    g = _sample_graph()
    back = TrussGraph.from_vae_input(*g.to_vae_input(features))
    np.testing.assert_array_equal(back.adjacency, g.adjacency)
    np.testing.assert_allclose(back.positions[g.active], g.positions[g.active], atol=1e-7)
    assert back.canonical_hash() == g.canonical_hash()


def test_vae_input_bad_feature_kind_and_shapes():
    g = _sample_graph()
    with pytest.raises(ValueError, match="offsets' or 'positions"):
        g.to_vae_input("coords")
    adj, off = g.to_vae_input()
    with pytest.raises(TrussGraphError, match=r"\(351,\)"):
        TrussGraph.from_vae_input(adj[:-1], off)
    with pytest.raises(TrussGraphError, match=r"\(27,\) or \(81,\)"):
        TrussGraph.from_vae_input(adj, np.zeros(30))


def test_from_vae_input_thresholds_probabilities():
    probs = np.full(351, 0.3)
    probs[[octant.PAIR_INDEX[0, 1], octant.PAIR_INDEX[0, 3], octant.PAIR_INDEX[0, 4]]] = [0.7, 0.51, 0.9]
    g = TrussGraph.from_vae_input(probs, np.zeros(27))
    assert g == elementary("simple_cubic") and g.n_struts == 3
    assert TrussGraph.from_vae_input(probs, np.zeros(27), threshold=0.6).n_struts == 2


def test_from_vae_input_positions_snaps_fixed_coordinates():
    adj, pos = elementary("simple_cubic").to_vae_input("positions")
    pos = pos.reshape(27, 3).copy()
    pos[1] = [1.02, 0.01, -0.03]  # decoder noise on a vertex
    g = TrussGraph.from_vae_input(adj, pos)
    np.testing.assert_array_equal(g.positions[1], [1, 0, 0])


# ----------------------------------------------------------------------------- to_frame
def test_to_frame_errors():
    with pytest.raises(TrussGraphError, match="no struts"):
        TrussGraph(np.eye(27, dtype=bool)).to_frame()
    with pytest.raises(TrussGraphError, match="non-finite"):
        E([*SC, ("v0", "t0")], offsets={"t0": [np.nan, 0, 0]}).to_frame()
    with pytest.raises(TrussGraphError, match="v1"):
        E(
            SC, positions=np.where(np.arange(27)[:, None] == 1, [0.8, 0, 0], octant.TEMPLATE_POSITIONS)
        ).to_frame()


def test_to_frame_radius_options():
    g = elementary("simple_cubic")
    assert g.to_frame().relative_density() == pytest.approx(0.15)
    assert g.to_frame(relative_density=0.05).relative_density() == pytest.approx(0.05)
    assert g.to_frame(radius=0.02).radius == 0.02


# ----------------------------------------------------------------------------- canonical hash
def test_hash_ignores_inactive_node_positions():
    a = elementary("octet")
    pos = a.positions.copy()
    pos[26] = [0.1, 0.9, 0.3]
    pos[octant.node_index("e4")] = [0.2, 0.0, 1.0]
    b = a.replace(positions=pos)
    assert a.canonical_hash() == b.canonical_hash() and a == b and hash(a) == hash(b)


@pytest.mark.parametrize("offset", [0.0, 0.3, -0.2])
def test_hash_merges_collinear_split_node(offset):
    plain = elementary("simple_cubic")
    split = E([("v0", "e0"), ("e0", "v1"), ("v0", "v3"), ("v0", "v4")], offsets={"e0": offset})
    assert split.n_struts == 4 and plain.n_struts == 3
    assert split.canonical_hash() == plain.canonical_hash()
    # a split along the body diagonal (t0 on v0-v6) is merged as well
    assert E([("v0", "t0"), ("t0", "v6")], offsets={"t0": [offset] * 3}) == elementary("bcc")


def test_hash_does_not_merge_a_bent_strut():
    bent = E([("v0", "t0"), ("t0", "v6")], offsets={"t0": [0.1, 0.0, 0.0]})
    assert bent != elementary("bcc")


@pytest.mark.parametrize("name", ELEMENTARY_NAMES)
def test_hash_invariant_under_octant_reflection(name):
    g = elementary(name)
    r = transformed(g, reflect_x)
    assert r.is_valid()
    assert r.canonical_hash() == g.canonical_hash()


def test_octant_reflection_of_simple_cubic_is_simple_cubic_centred_on_v1():
    r = transformed(elementary("simple_cubic"), reflect_x)
    assert sorted(map(tuple, r.edges.tolist())) == [(0, 1), (1, 2), (1, 5)]  # v1-v0, v1-v2, v1-v5
    assert r == elementary("simple_cubic")


def test_hash_invariant_under_reflection_of_perturbed_graph():
    g = E(
        [*SC, ("v0", "t0"), ("t0", "v6"), ("v0", "e9"), ("e9", "v5")],
        offsets={"t0": [0.21, -0.13, 0.05], "e9": 0.17},
    )
    assert transformed(g, reflect_x) == g

    def reflect_yz(p):  # a different mirror centre: reflect y and z
        p = np.array(p, dtype=float)
        p[:, 1:] = 1.0 - p[:, 1:]
        return p

    assert transformed(g, reflect_yz) == g


def test_hash_differs_for_rotated_lattice():
    g = E([*SC, ("v0", "v5")])  # simple cubic + a diagonal in the plane y=0: not symmetric in x<->y
    rot = transformed(g, swap_xy)
    assert g.is_valid() and rot.is_valid()
    assert sorted(map(tuple, rot.edges.tolist())) == [(0, 1), (0, 3), (0, 4), (0, 7)]  # diagonal v0-v7 now
    assert rot != g
    # whereas an axis permutation of an x<->y symmetric lattice is the same lattice
    assert transformed(elementary("octet"), swap_xy) == elementary("octet")


def test_hash_differs_for_changed_offset_and_added_strut():
    a = E(elementary("bcc_2x2x2").edges, offsets={"t0": [0.1, 0.0, 0.0]})
    b = E(elementary("bcc_2x2x2").edges, offsets={"t0": [0.2, 0.0, 0.0]})
    assert a != b and a.canonical_hash() != b.canonical_hash()
    assert elementary("simple_cubic") != E([*SC, ("v0", "v6")])


def test_hash_is_a_hex_string_independent_of_strut_order():
    g = elementary("octet_2x2x2")
    h = g.canonical_hash()
    assert isinstance(h, str) and len(h) >= 32 and int(h, 16) >= 0
    rng = np.random.default_rng(3)
    shuffled = E(g.edges[rng.permutation(g.n_struts)][:, ::-1])
    assert shuffled.canonical_hash() == h
    assert len({elementary(n).canonical_hash() for n in ELEMENTARY_NAMES}) == len(ELEMENTARY_NAMES)


PAIRS = [
    (
        "sc reflected",
        lambda: elementary("simple_cubic"),
        lambda: transformed(elementary("simple_cubic"), reflect_x),
    ),
    (
        "sc split",
        lambda: elementary("simple_cubic"),
        lambda: E([("v0", "e0"), ("e0", "v1"), ("v0", "v3"), ("v0", "v4")], offsets={"e0": 0.2}),
    ),
    (
        "bcc2 reflected",
        lambda: E(elementary("bcc_2x2x2").edges, offsets={"t0": [0.1, -0.2, 0.15]}),
        lambda: transformed(E(elementary("bcc_2x2x2").edges, offsets={"t0": [0.1, -0.2, 0.15]}), reflect_x),
    ),
    ("sc vs sc2", lambda: elementary("simple_cubic"), lambda: elementary("simple_cubic_2x2x2")),
    ("rotated", lambda: E([*SC, ("v0", "v5")]), lambda: transformed(E([*SC, ("v0", "v5")]), swap_xy)),
    (
        "offset",
        lambda: E(elementary("bcc_2x2x2").edges, offsets={"t0": [0.1, 0.0, 0.0]}),
        lambda: E(elementary("bcc_2x2x2").edges, offsets={"t0": [0.2, 0.0, 0.0]}),
    ),
    ("octet vs octet2", lambda: elementary("octet"), lambda: elementary("octet_2x2x2")),
]


@pytest.mark.parametrize("label, make_a, make_b", PAIRS, ids=[p[0] for p in PAIRS])
def test_hash_agrees_with_frame_canonical_key(label, make_a, make_b):
    a, b = make_a(), make_b()
    same_hash = a.canonical_hash() == b.canonical_hash()
    same_key = frame_key(a) == frame_key(b)
    assert same_hash == same_key
    assert same_hash == (label in ("sc reflected", "sc split", "bcc2 reflected"))


# ----------------------------------------------------------------------------- axis permutations
@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_permute_axes_relabels_the_template_and_turns_the_stiffness(perm):
    from trussvae.fem import homogenize
    from trussvae.fem.elasticity import youngs_moduli
    from trussvae.generation import generate_structures

    g = generate_structures(3, seed=5)[0]
    h = g.permute_axes(perm)
    assert h.is_valid()
    ref = transformed(g, lambda p: np.asarray(p)[:, list(perm)])
    np.testing.assert_array_equal(h.adjacency, ref.adjacency)
    np.testing.assert_allclose(h.positions, ref.positions)
    E = youngs_moduli(homogenize(g.to_frame()))
    np.testing.assert_allclose(youngs_moduli(homogenize(h.to_frame())), E[list(perm)], rtol=1e-8)
    inverse = tuple(int(a) for a in np.argsort(perm))
    assert h.permute_axes(inverse).canonical_hash() == g.canonical_hash()


@pytest.mark.parametrize("perm", [(0, 1), (0, 0, 1), (1, 2, 3)])
def test_permute_axes_rejects_a_non_permutation(perm):
    with pytest.raises(TrussGraphError, match="permutation"):
        elementary("bcc").permute_axes(perm)
