"""Validity rules: every rule with a passing and a minimal failing case (checked by rule code)."""

import numpy as np
import pytest

from trussvae.design_space import RULES, TrussGraph, ValidityRules, octant
from trussvae.generation.elementary import ELEMENTARY_NAMES, elementary

E = TrussGraph.from_edges
SC = [("v0", "v1"), ("v0", "v3"), ("v0", "v4")]  # simple cubic through the mirror centre v0


def codes(graph, rules=None):
    return [c for c, _ in (graph.violations() if rules is None else graph.violations(rules))]


def test_rule_codes_are_the_documented_ones():
    assert RULES == (
        "nonfinite",
        "bounds",
        "empty",
        "zero_length",
        "max_length",
        "intersection",
        "dangling",
        "connectivity",
    )


@pytest.mark.parametrize("name", ELEMENTARY_NAMES)
def test_elementary_lattices_pass_every_rule(name):
    g = elementary(name)
    assert g.violations() == [] and g.validate() == [] and g.is_valid()


# ----------------------------------------------------------------------------- empty
def test_empty():
    g = TrussGraph(np.eye(27, dtype=bool))
    assert codes(g) == ["empty"]
    assert not g.is_valid()


# ----------------------------------------------------------------------------- nonfinite
def test_nonfinite_active_node():
    g = E([*SC, ("v0", "t0"), ("t0", "v6")], offsets={"t0": [np.nan, 0.0, 0.0]})
    (code, reason), *_ = g.violations()
    assert code == "nonfinite" and "t0" in reason


# inf * 0 in validity.bounds_violations warns for an inactive infinite node (harmless, reported)
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
def test_nonfinite_inactive_node_is_ignored():
    pos = octant.TEMPLATE_POSITIONS.copy()
    pos[26] = np.inf
    assert codes(E(SC, positions=pos)) == []


# ----------------------------------------------------------------------------- bounds
def test_bounds():
    assert codes(E([*SC, ("v0", "t0"), ("t0", "v6")], offsets={"t0": [0.3, -0.49, 0.2]})) == []
    bad = E([*SC, ("v0", "t0"), ("t0", "v6")], offsets={"t0": [0.3, -0.5, 0.2]})
    assert codes(bad) == ["bounds"]


# ----------------------------------------------------------------------------- zero_length
def _short_strut_graph():
    # simple cubic with its x strut split by e0 close to v0: strut v0-e0 has length 0.05 natural
    # units = 0.025 cell sides; e0 has degree 2 in the full cell (struts to v0 and v1)
    return E([("v0", "e0"), ("e0", "v1"), ("v0", "v3"), ("v0", "v4")], offsets={"e0": -0.45})


def test_zero_length():
    g = _short_strut_graph()
    assert codes(g) == []
    assert codes(g, ValidityRules(min_length=0.02)) == []
    (code, reason), *rest = g.violations(ValidityRules(min_length=0.03))
    assert code == "zero_length" and "v0-e0" in reason and rest == []


def test_zero_length_first_only_stops_early():
    rules = ValidityRules(min_length=0.03, max_length=0.01)
    assert codes(_short_strut_graph(), rules) == ["zero_length", "max_length"]
    assert [c for c, _ in _short_strut_graph().violations(rules, first_only=True)] == ["zero_length"]


# ----------------------------------------------------------------------------- max_length
def test_max_length():
    bcc = elementary("bcc")  # one strut v0-v6 of length sqrt(3)/2 (the octant diagonal)
    assert codes(bcc) == []  # the default limit is exactly the paper's r_max = sqrt(3)/2
    assert codes(bcc, ValidityRules(max_length=0.87)) == []
    (code, reason), *rest = bcc.violations(ValidityRules(max_length=0.4))
    assert code == "max_length" and "v0-v6" in reason and "0.8660" in reason and rest == []


def test_default_max_length_is_the_octant_diagonal():
    assert ValidityRules().max_length == pytest.approx(np.sqrt(3) / 2)


# ----------------------------------------------------------------------------- intersection
def test_intersection_crossing_face_diagonals():
    # simple cubic plus both diagonals of face z=0, crossing at its centre (0.5, 0.5, 0)
    ok = E([*SC, ("v0", "v2")])
    assert codes(ok) == []
    g = E([*SC, ("v0", "v2"), ("v1", "v3")])
    (code, reason), *rest = g.violations()
    assert code == "intersection" and "v0-v2" in reason and "v1-v3" in reason and rest == []


def test_intersection_crossing_repaired_by_a_node():
    # the paper's fix: split both diagonals at a node at the crossing point (f4 at offset 0)
    g = E([*SC, ("v0", "f4"), ("f4", "v2"), ("v1", "f4"), ("f4", "v3")])
    assert codes(g) == []


def test_intersection_collinear_overlap_at_shared_node():
    # v0-e0 runs along v0-v1 (overlap from the shared node v0); e0-v1 keeps e0 non-dangling
    g = E([("v0", "e0"), ("e0", "v1"), ("v0", "v1"), ("v0", "v3"), ("v0", "v4")])
    assert codes(g) == ["intersection"]
    assert codes(E([("v0", "e0"), ("e0", "v1"), ("v0", "v3"), ("v0", "v4")])) == []


def test_intersection_node_inside_another_strut():
    # t0 (at the octant centre) lies on the body diagonal v0-v6 without being one of its ends
    g = E([("v0", "v6"), ("v0", "v1"), ("v0", "v3"), ("t0", "v1"), ("t0", "v3")])
    (code, reason), *rest = g.violations()
    assert code == "intersection" and "v0-v6" in reason and "t0" in reason and rest == []
    # moved off the diagonal, nothing intersects
    moved = E(
        [("v0", "v6"), ("v0", "v1"), ("v0", "v3"), ("t0", "v1"), ("t0", "v3")], offsets={"t0": [0.1, 0, 0]}
    )
    assert codes(moved) == []


def test_intersection_near_miss_respects_tolerance():
    # two skew struts whose distance is 2e-3 natural units = 1e-3 cell sides
    g = E(
        [*SC, ("v0", "v2"), ("e9", "e11"), ("e9", "v1"), ("e11", "v3")], offsets={"e9": -0.499, "e11": -0.499}
    )
    assert "intersection" not in codes(g)
    assert "intersection" in codes(g, ValidityRules(intersection_tol=2e-3))


# ----------------------------------------------------------------------------- dangling
def test_dangling_body_node_with_one_strut():
    # t0 has 3 free axes, so its 8 mirror images are distinct nodes of degree 1 each
    g = E([*SC, ("v0", "t0")])
    (code, reason), *rest = g.violations()
    assert code == "dangling" and "t0" in reason and "8 dangling" in reason and rest == []


def test_octant_degree_one_is_not_dangling_on_a_mirror_plane():
    # in simple cubic v1 has one octant strut, but v1 lies on the mirror plane x=1 (natural), so
    # the strut and its x-mirror image both end at v1: full-cell degree 2, not dangling
    g = elementary("simple_cubic")
    assert g.adjacency[octant.node_index("v1")].sum() - 1 == 1
    assert codes(g) == []


def test_dangling_edge_node():
    # e2 (on edge v3-v2, free along x) with one strut along its edge to v2: the y- and z-mirrors
    # map that strut onto itself, the x-mirror onto a strut of the distinct image e2', so both
    # images keep degree 1 (v0-v2 keeps v2 connected to the rest)
    g = E([*SC, ("v0", "v2"), ("e2", "v2")], offsets={"e2": 0.2})
    (code, reason), *rest = g.violations()
    assert code == "dangling" and "e2" in reason and "2 dangling" in reason and rest == []


def test_dangling_face_node():
    # f4 (face z=0) with one strut in its face: the z-mirror maps the strut onto itself
    (code, reason), *rest = E([*SC, ("v0", "f4")]).violations()
    assert code == "dangling" and "f4" in reason and "4 dangling" in reason and rest == []


def test_edge_node_strut_leaving_its_edge_is_not_dangling():
    # e9 (x=1, y=0 fixed) to t0: the x- and y-mirror images of the strut also end at e9
    g = E([*SC, ("v0", "t0"), ("t0", "e9"), ("t0", "v6")])
    assert codes(g) == []


# ----------------------------------------------------------------------------- connectivity
def test_connectivity_load_paths_in_one_direction():
    (code, reason), *rest = E([("v0", "v1")]).violations()
    assert code == "connectivity" and "only 1 of 3" in reason and rest == []


def test_connectivity_load_paths_in_two_directions():
    (code, reason), *rest = E([("v0", "v1"), ("v0", "v3")]).violations()
    assert code == "connectivity" and "only 2 of 3" in reason and rest == []


def test_connectivity_two_disconnected_networks():
    # two interpenetrating simple cubic networks, centred on v0 and on v6 (a half-cell diagonal
    # apart), without a strut between them
    g = E([*SC, ("v6", "v7"), ("v6", "v5"), ("v6", "v2")])
    (code, reason), *rest = g.violations()
    assert code == "connectivity" and "2 disconnected components" in reason and rest == []
    # one strut joining them makes it valid (a simple cubic with a body diagonal)
    assert codes(E([*SC, ("v6", "v7"), ("v6", "v5"), ("v6", "v2"), ("v0", "v6")])) == []


def test_connectivity_planar_layers():
    # square grids in the planes z=0 (through v0) stacked without z struts: rank 2
    g = E([("v0", "v1"), ("v0", "v3"), ("v4", "v5"), ("v4", "v7")])
    assert "connectivity" in codes(g)


def test_all_rule_codes_reachable():
    # every rule code except the two mirror-plane-only ones is produced by the cases above; this
    # guards against a rule silently disappearing from check()
    cases = {
        "empty": TrussGraph(np.eye(27, dtype=bool)),
        "nonfinite": E([*SC, ("v0", "t0"), ("t0", "v6")], offsets={"t0": [np.nan, 0, 0]}),
        "bounds": E([*SC, ("v0", "t0"), ("t0", "v6")], offsets={"t0": [0.5, 0, 0]}),
        "intersection": E([*SC, ("v0", "v2"), ("v1", "v3")]),
        "dangling": E([*SC, ("v0", "t0")]),
        "connectivity": E([("v0", "v1")]),
    }
    for code, g in cases.items():
        assert codes(g)[0] == code
    assert codes(elementary("bcc"), ValidityRules(max_length=0.4))[0] == "max_length"
    assert codes(_short_strut_graph(), ValidityRules(min_length=0.03))[0] == "zero_length"
