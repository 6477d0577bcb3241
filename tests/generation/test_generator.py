"""The stochastic generator: validity, uniqueness, determinism, DOF constraints, splitting."""

from collections import Counter

import numpy as np
import pytest

from trussvae.design_space import TrussGraph, octant
from trussvae.generation import (
    GeneratorConfig,
    PerturbationParams,
    elementary,
    generate_chunk,
    generate_structures,
    perturb,
    split_intersections,
    superpose,
)


@pytest.fixture(scope="module")
def structures():
    return generate_structures(300, seed=7, chunk_size=300)


def test_generated_structures_are_valid_and_unique(structures):
    assert len(structures) == 300
    assert all(g.validate() == [] for g in structures)
    assert len({g.canonical_hash() for g in structures}) == 300


def test_generated_structures_respect_node_dofs(structures):
    for g in structures[:100]:
        act = g.active
        fixed = ~octant.FREE_MASK & act[:, None]
        np.testing.assert_array_equal(g.positions[fixed], octant.TEMPLATE_POSITIONS[fixed])
        free = octant.FREE_MASK & act[:, None]
        assert np.all(np.abs(g.positions[free] - 0.5) < 0.5)


def test_generator_is_diverse(structures):
    n_struts = [g.n_struts for g in structures]
    assert len(set(n_struts)) > 10
    types_used = np.zeros(4, bool)
    for g in structures:
        types_used[np.unique(octant.NODE_TYPES[g.active])] = True
    assert types_used.all()  # vertex, edge, face and body nodes all appear


def test_determinism_for_seed_and_chunking():
    a = generate_chunk(3, 5, 60)
    b = generate_chunk(3, 5, 60)
    np.testing.assert_array_equal(a.adjacency, b.adjacency)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.hashes, b.hashes)
    c = generate_chunk(4, 5, 60)
    assert set(c.hashes) != set(a.hashes)
    d = generate_chunk(3, 6, 60)
    assert set(d.hashes) != set(a.hashes)


def test_chunk_arrays_roundtrip_to_graphs():
    chunk = generate_chunk(0, 0, 40)
    assert chunk.adjacency.shape == (40, 351) and chunk.offsets.shape == (40, 27)
    for g, h in zip(chunk.graphs(), chunk.hashes):
        assert g.canonical_hash() == h
    assert chunk.stats["n"] == 40 and sum(chunk.stats["rejections"].values()) > 0


def test_perturb_keeps_validity_and_counts_rejections():
    rng = np.random.default_rng(0)
    stats = Counter()
    for name in ("simple_cubic", "octet_2x2x2", "bcc"):
        g = perturb(elementary(name), rng, PerturbationParams(n_iterations=10), stats=stats)
        assert g.validate() == []
    assert stats["accepted"] + stats["skipped"] == 30
    assert any(k.startswith("rejected:") for k in stats)


def test_perturb_zero_iterations_is_identity():
    g = elementary("octet")
    assert perturb(g, np.random.default_rng(0), PerturbationParams(n_iterations=0)) == g


def test_superpose_is_boolean_or_with_first_positions():
    a, b = elementary("simple_cubic"), elementary("bcc_2x2x2")
    s = superpose(a, b)
    np.testing.assert_array_equal(s.adjacency, a.adjacency | b.adjacency)
    assert s.n_struts == a.n_struts + b.n_struts


def test_split_crossing_face_diagonals_inserts_face_node():
    # v0-v2 and v1-v3 cross at the centre of face z=0 (node f4)
    g = TrussGraph.from_edges([("v0", "v2"), ("v1", "v3")])
    s, why = split_intersections(g)
    assert why == "" and s is not None
    f4 = octant.node_index("f4")
    assert s.active[f4] and s.adjacency[f4].sum() - 1 == 4
    np.testing.assert_allclose(s.positions[f4], [0.5, 0.5, 0.0])
    assert not s.adjacency[0, 2]


def test_split_body_crossing_uses_body_node():
    g = TrussGraph.from_edges([("v0", "v6"), ("v1", "v7")])
    s, why = split_intersections(g)
    assert why == "" and s.active[octant.node_index("t0")]
    np.testing.assert_allclose(s.positions[26], [0.5, 0.5, 0.5])


def test_split_occupied_and_overlap_are_discarded():
    # the crossing point needs f4, which is active elsewhere
    g = TrussGraph.from_edges([("v0", "v2"), ("v1", "v3"), ("f4", "v4")], offsets={"f4": [0.2, 0.2]})
    assert split_intersections(g) == (None, "split_occupied")
    g = TrussGraph.from_edges([("v0", "v1"), ("v0", "e0")])
    assert split_intersections(g) == (None, "split_overlap")


def test_generator_config_validation():
    with pytest.raises(ValueError, match="op_probabilities"):
        PerturbationParams(op_probabilities=(1.0, 1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="unknown generator parameter"):
        GeneratorConfig.from_dict({"libary_fraction": 0.2})
    with pytest.raises(ValueError, match="seeds"):
        GeneratorConfig(seeds=("kagome",))
    cfg = GeneratorConfig.from_dict(GeneratorConfig().to_dict())
    assert cfg == GeneratorConfig()


def test_fast_to_frame_equals_validated_construction(structures):
    from trussvae.fem import PeriodicFrame

    for g in structures[:100]:
        f = g.to_frame(relative_density=0.15)
        checked = PeriodicFrame(f.lattice_vectors, f.nodes, f.struts, f.shifts, f.radius)  # raises if malformed
        np.testing.assert_array_equal(checked.nodes, f.nodes)
        np.testing.assert_array_equal(checked.shifts, f.shifts)
        assert checked.relative_density() == pytest.approx(0.15, rel=1e-12)


def test_small_chunks_grow_their_library_and_full_chunks_are_unchanged():
    import hashlib

    # 200 structures from a 20-structure library: its distinct pairs run out in the first pass
    # (mostly duplicates), the second pass grows the library (this raised RuntimeError before)
    c = generate_chunk(11, 0, 200)
    assert len(c.hashes) == len(set(c.hashes)) == 200
    assert c.stats["rejections"]["library_extended"] > 0
    assert all(g.validate() == [] for g in c.graphs())
    assert len(generate_structures(200, seed=11)) == 200
    # a chunk the first pass fills is exactly what the generator made before the second pass existed
    # (digest of its canonical hashes, recorded with the code of commit 907aa48)
    full = generate_chunk(0, 3, 250)
    assert "library_extended" not in full.stats["rejections"]
    digest = hashlib.sha256("".join(full.hashes).encode()).hexdigest()
    assert digest == "689f9e043fcbc0a9733ec3e55776fd77c2e6ea70bb9ee3f7261ba8fce5fd081b"
