"""The paper's data protocol (generation=paper): numbering, base lattices, filters, variants,
determinism, chunking independence, crossing struts in FE, clear errors."""

from collections import Counter

import numpy as np
import pytest

from trussvae.design_space import TrussGraph, octant
from trussvae.design_space.validity import RULES
from trussvae.generation import elementary
from trussvae.generation.paper_protocol import (
    BASE_LATTICES,
    PAPER_POSITIONS,
    PAPER_TO_OURS,
    PaperProtocolConfig,
    base_lattice,
    base_topologies,
    build_paper_dataset,
    generate_variants,
    n_components,
    paper_offsets_to_positions,
    plan_topologies,
    touches_six_faces,
)
from trussvae.io import LatticeStore

SMALL = PaperProtocolConfig(n_base_draws=300)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper") / "ds"
    return build_paper_dataset(root, 200, seed=3, chunk_size=100, config=SMALL, scheduler="sync", progress=False)


def test_paper_numbering_is_facts_table():
    # FACTS.md 1.1: index 9k + p, snake order in each layer
    expected = {0: (0, 0, 0), 1: (0.5, 0, 0), 3: (1, 0.5, 0), 5: (0, 0.5, 0), 7: (0.5, 1, 0), 10: (0.5, 0, 0.5),
                12: (1, 0.5, 0.5), 13: (0.5, 0.5, 0.5), 14: (0, 0.5, 0.5), 22: (0.5, 0.5, 1), 26: (1, 1, 1)}
    for i, p in expected.items():
        np.testing.assert_array_equal(PAPER_POSITIONS[i], p)
    assert sorted(PAPER_TO_OURS.tolist()) == list(range(27))
    np.testing.assert_array_equal(octant.TEMPLATE_POSITIONS[PAPER_TO_OURS], PAPER_POSITIONS)
    free = octant.FREE_MASK[PAPER_TO_OURS]
    classes = {(True, False, False): [1, 7, 19, 25], (False, True, False): [3, 5, 21, 23],
               (False, False, True): [9, 11, 15, 17], (True, True, False): [4, 22], (False, True, True): [12, 14],
               (True, False, True): [10, 16], (True, True, True): [13], (False, False, False): [0, 2, 6, 8, 18, 20,
                                                                                               24, 26]}
    for mask, nodes in classes.items():
        assert all(tuple(free[n]) == mask for n in nodes)


def test_base_lattices_are_the_released_ones():
    # B2 = bcc body diagonal split at the centre, A1 = 3 cube edges at (1,1,1) (a simple cubic corner),
    # A2 = all 12 edges split, C2 = a face-diagonal tetrahedron (octet); the hash merges collinear splits
    # and identifies the octant reflections
    same = {"B2": "bcc", "A1": "simple_cubic", "A2": "simple_cubic_2x2x2", "C2": "octet"}
    n_bars = {"B2": 2, "A1": 6, "A2": 24, "C2": 12}
    for name in BASE_LATTICES:
        g = base_lattice(name)
        assert g.n_struts == n_bars[name]
        assert g.canonical_hash() == elementary(same[name]).canonical_hash()
    # degree-1 octant corners: always rewired by the dangling-node repair
    deg = base_lattice("B2").adjacency.sum(0) - 1
    assert deg[PAPER_TO_OURS[[0, 26]]].tolist() == [1, 1]
    deg = base_lattice("A1").adjacency.sum(0) - 1
    assert deg[PAPER_TO_OURS[[8, 20, 24]]].tolist() == [1, 1, 1]
    with pytest.raises(KeyError, match="B2"):
        base_lattice("B1")


def test_offset_maps():
    s = np.zeros((27, 3))
    s[1, 0] = 0.3  # x-edge node: position 0.5 + r
    s[4, :2] = (0.2, -0.4)  # xy-face node: (1 - s) / 2 per coordinate
    s[13] = (-0.5, 0.0, 0.5)  # body node
    s[12, 0] = 0.4  # a fixed coordinate (x of a yz-face node): ignored
    p = paper_offsets_to_positions(s)
    np.testing.assert_allclose(p[1], (0.8, 0, 0))
    np.testing.assert_allclose(p[4], (0.4, 0.7, 0))
    np.testing.assert_allclose(p[13], (0.75, 0.5, 0.25))
    np.testing.assert_allclose(p[12], PAPER_POSITIONS[12])
    np.testing.assert_allclose(p[[0, 2, 26]], PAPER_POSITIONS[[0, 2, 26]])


def test_base_topologies_pass_the_filters_and_are_deterministic():
    ours, origin, stats = base_topologies(0, SMALL)
    again, _, _ = base_topologies(0, SMALL)
    np.testing.assert_array_equal(ours, again)
    assert not np.array_equal(base_topologies(1, SMALL)[0][:5], ours[:5])
    assert stats["unique"] == len(ours) > 50
    assert sum(stats["rejections"].values()) + stats["kept"] == SMALL.n_base_draws + stats["rejections"]["duplicate"]
    assert len({a.tobytes() for a in ours}) == len(ours)
    for a in ours:
        g = TrussGraph(a)
        assert n_components(a) == 1 and touches_six_faces(a, g.positions)
        deg = a.sum(0)
        assert not np.any(deg == 1)  # no dangling node in the octant
        assert not a.diagonal().any()
    assert set(origin.tolist()) == {0, 1, 2, 3}


def test_rewiring_probability_zero_keeps_a2_and_c2_and_always_alters_b2_a1():
    cfg = PaperProtocolConfig(n_base_draws=200, rewire_probability=0.0)
    ours, origin, _ = base_topologies(0, cfg)
    hashes = {TrussGraph(a).canonical_hash() for a in ours}
    assert base_lattice("A2").canonical_hash() in hashes
    assert base_lattice("C2").canonical_hash() in hashes
    for name in ("B2", "A1"):  # their degree-1 corners are repaired: the unmodified lattice never survives
        assert not any(np.array_equal(a, base_lattice(name).adjacency & ~np.eye(27, dtype=bool)) for a in ours)


def test_union_plan_is_connected_distinct_and_prefix_stable():
    base, _, _ = base_topologies(0, SMALL)
    pairs, unions, stats = plan_topologies(base, 60, seed=0)
    assert len(pairs) == len(unions) == 60 and np.all(pairs[:, 0] <= pairs[:, 1])
    assert len({u.tobytes() for u in unions}) == 60
    for (i, j), u in zip(pairs, unions):
        np.testing.assert_array_equal(u, (base[i] | base[j])[octant.TRIU_I, octant.TRIU_J])
        adj = np.zeros((27, 27), bool)
        adj[octant.TRIU_I, octant.TRIU_J] = u
        assert n_components(adj | adj.T) == 1
    more, _, _ = plan_topologies(base, 80, seed=0)
    np.testing.assert_array_equal(more[:60], pairs)
    with pytest.raises(RuntimeError, match="n_base_draws"):
        plan_topologies(base[:3], 7, seed=0)


def test_variants_share_topology_and_differ_in_geometry():
    base, _, _ = base_topologies(0, SMALL)
    _, unions, _ = plan_topologies(base, 5, seed=0)
    stats = Counter()
    moved = []
    for t, u in enumerate(unions):
        graphs = generate_variants(u, t, seed=0, cfg=SMALL, stats=stats)
        assert len(graphs) == 20
        assert all(np.array_equal(g.adjacency, graphs[0].adjacency) for g in graphs)
        assert len({g.canonical_hash() for g in graphs}) > 15
        active = graphs[0].active
        for g in graphs:
            d = g.positions - octant.TEMPLATE_POSITIONS
            assert not d[~active].any() and not d[octant.NODE_TYPES == 0].any()  # only active non-vertex nodes
            assert not d[~octant.FREE_MASK].any()
            off = np.abs(d[octant.FREE_MASK].reshape(-1))
            assert off.max() < 0.5
            facebody = (octant.NODE_TYPES >= 2)[:, None] & octant.FREE_MASK
            assert np.abs(d[facebody]).max() <= 0.25
            movable = active & (octant.NODE_TYPES > 0)
            moved.append(np.abs(d).sum(1)[movable] > 0)
        again = generate_variants(u, t, seed=0, cfg=SMALL)
        assert all(np.array_equal(a.positions, b.positions) for a, b in zip(graphs, again))
    assert 0.4 < np.concatenate(moved).mean() < 0.6  # each node moves with probability 1/2
    still = generate_variants(unions[0], 0, seed=0, cfg=PaperProtocolConfig(move_probability=0.0))
    assert all(np.array_equal(g.positions, octant.TEMPLATE_POSITIONS) for g in still)


def test_dataset_structures_pass_the_protocol_filters(small_store):
    s = small_store.load_structures()
    assert len(s["hashes"]) == 200
    assert np.array_equal(np.bincount(s["topology"]), np.full(10, 20))  # variants_per_topology honoured
    for g in small_store.graphs():
        assert n_components(g.adjacency) == 1 and touches_six_faces(g.adjacency, g.positions)
    meta = small_store.meta
    assert meta["generator"]["name"] == "paper" and meta["generator"]["config"]["variants_per_topology"] == 20
    assert meta["n_topologies"] == 10
    # strict validity: counted (bitmask per row), not applied
    mask = s["strict_violations"]
    assert meta["strict_validity"]["n_invalid"] == int((mask > 0).sum())
    for k, code in enumerate(RULES):
        assert meta["strict_validity"]["violations"].get(code, 0) == int(((mask >> k) & 1).sum())
    for i in np.flatnonzero(mask)[:5]:
        g = small_store.graphs([i])[0]
        assert {c for c, _ in g.violations()} == {RULES[k] for k in range(8) if (mask[i] >> k) & 1}


def test_determinism_and_chunking_independence(small_store, tmp_path):
    other = build_paper_dataset(tmp_path / "b", 200, seed=3, chunk_size=40, config=SMALL, scheduler="sync",
                                progress=False)
    a, b = small_store.load_structures(), other.load_structures()
    for k in ("adjacency", "offsets", "hashes", "topology", "strict_violations"):
        np.testing.assert_array_equal(a[k], b[k])
    c = build_paper_dataset(tmp_path / "c", 200, seed=4, chunk_size=100, config=SMALL, scheduler="sync",
                            progress=False).load_structures()
    assert not np.array_equal(a["offsets"], c["offsets"])


def test_partial_last_topology_and_extension(tmp_path):
    cfg = PaperProtocolConfig(n_base_draws=300, variants_per_topology=7)
    store = build_paper_dataset(tmp_path / "d", 75, seed=0, chunk_size=21, config=cfg, scheduler="sync",
                                progress=False)
    first = store.load_structures()
    assert np.bincount(first["topology"]).tolist() == [7] * 10 + [5]
    bigger = build_paper_dataset(tmp_path / "d", 140, seed=0, chunk_size=21, config=cfg, scheduler="sync",
                                 progress=False).load_structures()
    np.testing.assert_array_equal(bigger["offsets"][:75], first["offsets"])
    assert np.bincount(bigger["topology"]).tolist() == [7] * 20


def test_crossing_struts_are_independent_beams_in_fe():
    """Two struts crossing without a shared node (paper nodes 0-4 and 1-5 in the z=0 face) are kept:
    our validity rules flag them, the frame has no node at the crossing and FE treats them as two
    independent beams (they interact only through the nodes at their ends)."""
    from trussvae.fem import homogenize

    a2 = base_lattice("A2")
    cross = [(PAPER_TO_OURS[0], PAPER_TO_OURS[4]), (PAPER_TO_OURS[1], PAPER_TO_OURS[5])]
    g = TrussGraph.from_edges([tuple(e) for e in a2.edges] + cross)
    assert "intersection" in {c for c, _ in g.violations()}
    frame = g.to_frame(relative_density=0.15)  # no validity gate beyond the DOF bounds
    fold = np.minimum(frame.nodes % 1.0, 1.0 - frame.nodes % 1.0)  # mirror images onto the octant
    assert not np.any(np.all(np.isclose(fold, [0.125, 0.125, 0.0]), axis=1))  # the crossing, natural (1/4, 1/4, 0)
    assert len(frame.nodes) == len({k for k in octant.IMAGE_NODE[g.active].ravel().tolist()})
    C = homogenize(frame)
    assert np.all(np.isfinite(C)) and np.all(np.linalg.eigvalsh(C) > 0)
    C0 = homogenize(a2.to_frame(relative_density=0.15))
    assert not np.allclose(C, C0)


def test_bad_configuration_values_fail_clearly():
    for kw, msg in [({"variants_per_topology": 0}, "variants_per_topology"), ({"offset_range": 0.7}, "offset_range"),
                    ({"move_probability": 1.5}, "move_probability"), ({"base_lattices": ("B1",)}, "base_lattices"),
                    ({"n_base_draws": 2.5}, "n_base_draws")]:
        with pytest.raises(ValueError, match=msg):
            PaperProtocolConfig(**kw)
    with pytest.raises(ValueError, match="unknown paper-protocol parameter"):
        PaperProtocolConfig.from_dict({"variants": 3})
    with pytest.raises(ValueError, match="n must be positive"):
        build_paper_dataset("/nonexistent/never", 0, config=SMALL)


def test_homogenize_entry_point_paper(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0",  # this checkout's package first
           "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(root / "homogenize.py"), "generation=paper", "n=40", "chunk_size=20",
                        "scheduler=sync", "progress=false", "generation.n_base_draws=200", f"out={tmp_path}/ds",
                        f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert "40 lattices of 2 topologies, paper protocol" in r.stdout
    assert LatticeStore(tmp_path / "ds").load_labels("linear")["ok"].all()
    bad = subprocess.run([sys.executable, str(root / "homogenize.py"), "generation=paper", "n=40",
                          "generation.offset_range=0.7", f"out={tmp_path}/bad", f"hydra.run.dir={tmp_path}/run2"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "offset_range" in bad.stderr
