import numpy as np

from trussvae.design_space import octant
from trussvae.design_space.repair import clip_offsets, largest_component, prune_dangling, repair
from trussvae.design_space.truss_graph import TrussGraph
from trussvae.generation import generate_structures


def _valid(n=5):
    return generate_structures(n, seed=3)


def test_repair_keeps_valid_structures():
    for g in _valid():
        assert g.is_valid()
        r = repair(g)
        assert r.is_valid()
        assert np.array_equal(r.adjacency, g.adjacency)
        assert r == g


def test_clip_brings_offsets_into_bounds():
    g = _valid(1)[0]
    off = g.offsets.copy()
    active_dof = g.active[octant.DOF_INDEX[:, 0]]
    off[np.flatnonzero(active_dof)[0]] = 0.5   # exactly on the bound: invalid
    off[np.flatnonzero(active_dof)[1]] = np.nan
    bad = TrussGraph.from_offsets(g.adjacency, off)
    assert not bad.is_valid()
    c = clip_offsets(bad)
    assert np.all(np.abs(c.offsets) <= 0.5 - 1e-3 + 1e-12) and np.all(np.isfinite(c.offsets))


def test_dangling_strut_is_pruned():
    # the body node t0 has 8 distinct full-cell images: one strut gives each image degree 1
    k = octant.node_index("t0")
    g = next(g for g in generate_structures(40, seed=3) if not g.active[k])
    partner = int(np.flatnonzero(g.active)[0])
    adj = g.adjacency.copy()
    adj[k, partner] = adj[partner, k] = True   # a strut to a node with no other strut
    dangling = TrussGraph(adj, g.positions)
    r = prune_dangling(dangling)
    assert not dangling.is_valid() and not r.active[k]
    assert repair(dangling) == g


def test_largest_component_drops_small_island():
    g = TrussGraph.from_edges([("v0", "v1"), ("v1", "v2"), ("v2", "v0"), ("e4", "e6")])
    r = largest_component(g)
    assert r.n_struts == 3 and not r.active[octant.node_index("e4")]


def test_repair_is_pure_and_returns_truss_graph():
    g = _valid(1)[0]
    before = g.adjacency.copy()
    r = repair(g)
    assert isinstance(r, TrussGraph) and np.array_equal(g.adjacency, before)


def test_repair_of_empty_graph():
    g = TrussGraph(np.zeros((27, 27), bool))
    assert repair(g).n_struts == 0
