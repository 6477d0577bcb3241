"""`PeriodicFrame`: construction validation, JSON, relative density, translation, canonical key."""

import itertools
import json

import numpy as np
import pytest

from trussvae.fem.frame import FrameError, PeriodicFrame, merge_collinear, uniform_radius

EYE = np.eye(3)


def simple_cubic(radius=0.05):
    """One node at the origin, one strut per axis to its own periodic image."""
    return PeriodicFrame(EYE, [[0, 0, 0]], [[0, 0]] * 3, np.eye(3, dtype=int), radius)


def bcc(radius=0.05):
    shifts = [[-a, -b, -c] for a, b, c in itertools.product([0, 1], repeat=3)]
    return PeriodicFrame(EYE, [[0, 0, 0], [0.5, 0.5, 0.5]], [[0, 1]] * 8, shifts, radius)


# ----------------------------------------------------------------------------- construction
def test_basic_geometry():
    f = bcc()
    assert (f.n_nodes, f.n_struts) == (2, 8)
    np.testing.assert_allclose(f.strut_lengths(), np.sqrt(3) / 2)
    assert f.cell_volume() == pytest.approx(1.0)
    np.testing.assert_array_equal(f.node_degrees(), [8, 8])
    assert simple_cubic().node_degrees().tolist() == [6]  # self-struts count twice
    # a non-cubic (scaled, sheared) cell: Cartesian = fractional @ lattice_vectors
    lv = [[2, 0, 0], [1, 1, 0], [0, 0, 3]]
    g = PeriodicFrame(lv, [[0, 0, 0]], [[0, 0]] * 3, np.eye(3, dtype=int))
    np.testing.assert_allclose(sorted(g.strut_lengths()), [np.sqrt(2), 2, 3])
    assert g.cell_volume() == pytest.approx(6.0)


def test_nodes_are_wrapped_into_unit_interval():
    f = PeriodicFrame(EYE, [[1.25, -0.25, 0.5], [0.0, 0.0, 0.0]], [[0, 1]])
    np.testing.assert_allclose(f.nodes[0], [0.25, 0.75, 0.5])
    tiny = PeriodicFrame(EYE, [[-1e-17, 0, 0], [0.5, 0, 0]], [[0, 1]])
    assert tiny.nodes[0, 0] == 0.0  # np.mod(-1e-17, 1) == 1.0 is folded back to 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lattice_vectors=np.eye(2)), "lattice_vectors: expected shape"),
        (dict(lattice_vectors=np.eye(4)), "lattice_vectors: expected shape"),
        (dict(lattice_vectors=[[1, 0, 0], [0, 1, 0]]), r"lattice_vectors: expected shape \(3, 3\)"),
        (dict(lattice_vectors=[[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]]), "lattice_vectors: non-finite"),
        (dict(lattice_vectors=[[1, 0, 0], [0, 0, 1], [0, 1, 0]]), "right-handed"),  # det = -1
        (dict(lattice_vectors=[[1, 0, 0], [0, 1, 0], [1, 1, 0]]), "non-degenerate"),  # det = 0
        (dict(nodes=[0, 0, 0]), r"nodes: expected shape \(n, 3\)"),
        (dict(nodes=[[0, 0], [0.5, 0.5]]), r"nodes: expected shape \(n, 3\)"),
        (dict(nodes=0.0), "nodes"),
        (dict(nodes=[[0, 0, 0], [np.inf, 0.5, 0.5]]), "nodes: non-finite"),
        (
            dict(nodes=[[0, 0, 0], [np.nan, 0.5, 0.5]]),
            r"nodes: non-finite value \(NaN or inf\) at index \[1, 0\]",
        ),
        (dict(struts=[]), "at least one strut"),
        (dict(struts=[[0, 1, 1]] * 8), r"struts: expected shape \(n, 2\)"),
        (dict(struts=[[0, 2]] * 8), "node index out of range"),
        (dict(struts=[[-1, 1]] * 8), "node index out of range"),
        (dict(struts=[[0, 0.5]] * 8), "struts: entries must be integers"),
        (dict(shifts=[[0, 0, 0]] * 7), "shifts: 7 rows for 8 struts"),
        (dict(shifts=np.full((8, 3), 0.5)), "shifts: entries must be integers"),
        (dict(shifts=np.full((8, 2), 0)), r"shifts: expected shape \(n, 3\)"),
        (dict(radius=0.0), "radius: must be a positive"),
        (dict(radius=-0.1), "radius: must be a positive"),
        (dict(radius=np.nan), "radius: must be a positive"),
        (dict(radius=np.full(7, 0.1)), r"radius: expected a float or shape \(8,\)"),
        (dict(radius=np.r_[np.full(7, 0.1), 0.0]), "radius: strut #7"),
    ],
)
def test_construction_errors_name_the_problem(kwargs, match):
    args = dict(
        lattice_vectors=EYE,
        nodes=[[0, 0, 0], [0.5, 0.5, 0.5]],
        struts=[[0, 1]] * 8,
        shifts=[[-a, -b, -c] for a, b, c in itertools.product([0, 1], repeat=3)],
        radius=0.05,
    )
    args.update(kwargs)
    with pytest.raises(FrameError, match=match):
        PeriodicFrame(**args)


def test_zero_length_struts():
    with pytest.raises(FrameError, match="zero-length"):  # a self-strut without shift
        PeriodicFrame(EYE, [[0, 0, 0], [0.5, 0, 0]], [[0, 1], [0, 0]], [[0, 0, 0], [0, 0, 0]])
    with pytest.raises(FrameError, match="zero-length strut.*#1"):  # two coincident nodes
        PeriodicFrame(EYE, [[0, 0, 0], [0.5, 0, 0], [0.5, 0, 0]], [[0, 1], [1, 2]])
    with pytest.raises(FrameError, match="zero-length"):  # coincident once the cell shift is applied
        PeriodicFrame(EYE, [[0, 0, 0], [1.0, 0, 0]], [[0, 1]], [[-1, 0, 0]])


@pytest.mark.parametrize(
    "struts, shifts",
    [
        ([[0, 1], [0, 1]], [[0, 0, 0], [0, 0, 0]]),  # the same strut twice
        ([[0, 1], [1, 0]], [[0, 0, 0], [0, 0, 0]]),  # reversed
        ([[0, 1], [1, 0]], [[1, 0, 0], [-1, 0, 0]]),  # reversed with opposite shift (j, i, -s)
        ([[0, 0], [0, 0]], [[1, 0, 0], [-1, 0, 0]]),  # a self-strut and its reversal
    ],
)
def test_duplicate_struts(struts, shifts):
    with pytest.raises(FrameError, match="duplicate strut"):
        PeriodicFrame(EYE, [[0, 0, 0], [0.5, 0.5, 0.5]], struts, shifts)


def test_distinct_shifts_are_not_duplicates():
    f = PeriodicFrame(EYE, [[0, 0, 0], [0.5, 0, 0]], [[0, 1], [1, 0]], [[0, 0, 0], [1, 0, 0]])
    assert f.n_struts == 2
    np.testing.assert_allclose(f.strut_vectors(), [[0.5, 0, 0], [0.5, 0, 0]])


def test_frame_error_is_a_value_error():
    assert issubclass(FrameError, ValueError)


# ----------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("radius", [0.05, np.linspace(0.01, 0.08, 8)])
def test_json_round_trip(tmp_path, radius):
    f = PeriodicFrame(
        [[1, 0, 0], [0.2, 1.1, 0], [0, 0.3, 0.9]], bcc().nodes, bcc().struts, bcc().shifts, radius
    )
    text = f.to_json()
    data = json.loads(text)
    assert data["format"] == "trussvae.PeriodicFrame" and data["version"] == 1
    for back in (PeriodicFrame.from_json(text), PeriodicFrame.from_json(f.to_json(tmp_path / "f.json"))):
        np.testing.assert_array_equal(back.lattice_vectors, f.lattice_vectors)
        np.testing.assert_array_equal(back.nodes, f.nodes)
        np.testing.assert_array_equal(back.struts, f.struts)
        np.testing.assert_array_equal(back.shifts, f.shifts)
        np.testing.assert_array_equal(back.radii(), f.radii())
        assert np.ndim(back.radius) == np.ndim(f.radius)
        assert back.canonical_key() == f.canonical_key()


def test_json_defaults_and_errors(tmp_path):
    minimal = {"lattice_vectors": EYE.tolist(), "nodes": [[0, 0, 0]], "struts": [[0, 0]] * 3}
    with pytest.raises(FrameError, match="zero-length"):  # shifts default to zero
        PeriodicFrame.from_dict({**minimal, "struts": [[0, 0]]})
    f = PeriodicFrame.from_dict({**minimal, "shifts": np.eye(3, dtype=int).tolist()})
    assert f.radius == 0.01  # default radius
    with pytest.raises(FrameError, match=r"missing key\(s\) \['struts'\]"):
        PeriodicFrame.from_json('{"lattice_vectors": [], "nodes": []}')
    with pytest.raises(FrameError, match="malformed JSON"):
        PeriodicFrame.from_json('{"lattice_vectors": ')
    with pytest.raises(FrameError, match="no such file"):
        PeriodicFrame.from_json(tmp_path / "missing.json")
    with pytest.raises(FrameError, match="expected a JSON object"):
        PeriodicFrame.from_dict([1])


# ----------------------------------------------------------------------------- relative density
def test_relative_density_formula():
    f = simple_cubic(radius=0.1)
    assert f.relative_density() == pytest.approx(3 * np.pi * 0.01 * 1.0)
    g = bcc(radius=0.1)
    assert g.relative_density() == pytest.approx(8 * np.pi * 0.01 * np.sqrt(3) / 2)


def test_with_relative_density_uniform_radius():
    f = bcc(radius=0.3).with_relative_density(0.15)
    assert np.ndim(f.radius) == 0
    assert f.relative_density() == pytest.approx(0.15)
    assert f.radius == pytest.approx(np.sqrt(0.15 / (8 * np.pi * np.sqrt(3) / 2)))
    # scale invariance: a cell twice as large has radii twice as large at the same density
    big = PeriodicFrame(2 * EYE, f.nodes, f.struts, f.shifts, 0.1).with_relative_density(0.15)
    assert big.radius == pytest.approx(2 * f.radius)


def test_with_relative_density_per_strut_radii_keeps_ratios():
    r = np.array([1, 2, 3, 4, 1, 2, 3, 4], dtype=float) * 0.01
    f = bcc(radius=r).with_relative_density(0.1)
    assert f.relative_density() == pytest.approx(0.1)
    np.testing.assert_allclose(f.radii() / f.radii()[0], r / r[0])


@pytest.mark.parametrize("rho", [0.0, 1.0, -0.1, np.nan])
def test_with_relative_density_rejects_out_of_range(rho):
    with pytest.raises(FrameError, match="relative_density"):
        bcc().with_relative_density(rho)


# ----------------------------------------------------------------------------- translation
@pytest.mark.parametrize("offset", [[0.5, 0.5, 0.5], [0.3, -0.7, 0.05], [-0.25, 0.0, 1.5]])
def test_translated_keeps_strut_vectors(offset):
    f = bcc()
    t = f.translated(offset)
    assert np.all((t.nodes >= 0) & (t.nodes < 1))
    np.testing.assert_allclose(t.strut_vectors(), f.strut_vectors(), atol=1e-12)
    np.testing.assert_allclose(np.mod(t.nodes - f.nodes - offset + 0.5, 1.0), 0.5, atol=1e-12)


def test_translated_keeps_strut_vectors_at_rounding_boundary():
    f = PeriodicFrame(EYE, [[0.3, 0, 0], [0.5, 0.5, 0]], [[0, 1]])
    t = f.translated([-(0.1 + 0.2), 0, 0])  # 0.3 - 0.30000000000000004 = -5.6e-17
    np.testing.assert_allclose(t.strut_vectors(), f.strut_vectors(), atol=1e-12)


def test_nodes_outside_the_cell_are_wrapped_without_moving_struts():
    f = PeriodicFrame(EYE, [[1.25, 0, 0], [0.5, -0.5, 0]], [[0, 1]], radius=0.01)
    np.testing.assert_allclose(f.nodes, [[0.25, 0, 0], [0.5, 0.5, 0]])
    np.testing.assert_allclose(f.strut_vectors(), [[-0.75, -0.5, 0]])


# ----------------------------------------------------------------------------- canonical key
def test_canonical_key_invariant_to_node_relabelling_and_strut_order():
    f = PeriodicFrame(
        EYE,
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]],
        [[0, 1], [1, 2], [2, 0], [0, 0]],
        [[0, 0, 0], [0, -1, 0], [1, 0, 0], [0, 0, 1]],
    )
    perm = np.array([2, 0, 1])  # new index of old node k is perm[k]
    nodes = np.empty_like(f.nodes)
    nodes[perm] = f.nodes
    relabelled = PeriodicFrame(EYE, nodes, perm[f.struts], f.shifts)
    assert relabelled.canonical_key() == f.canonical_key()
    order = [3, 1, 0, 2]
    reordered = PeriodicFrame(EYE, f.nodes, f.struts[order], f.shifts[order])
    assert reordered.canonical_key() == f.canonical_key()
    reversed_ = PeriodicFrame(EYE, f.nodes, f.struts[:, ::-1], -f.shifts)
    assert reversed_.canonical_key() == f.canonical_key()


def test_canonical_key_invariant_to_collinear_split():
    sc = simple_cubic()
    split = PeriodicFrame(
        EYE,
        [[0, 0, 0], [0.3, 0, 0]],
        [[0, 1], [1, 0], [0, 0], [0, 0]],
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
        0.05,
    )
    assert split.canonical_key() == sc.canonical_key()
    bent = PeriodicFrame(EYE, [[0, 0, 0], [0.3, 0.1, 0]], split.struts, split.shifts, 0.05)
    assert bent.canonical_key() != sc.canonical_key()


def test_canonical_key_sensitivity():
    sc = simple_cubic()
    assert sc.canonical_key() == simple_cubic(radius=0.2).canonical_key()  # radius is ignored
    assert bcc().canonical_key() != sc.canonical_key()
    # the same lattice in a scaled cell is a different key (lattice vectors are part of it)
    assert PeriodicFrame(2 * EYE, sc.nodes, sc.struts, sc.shifts).canonical_key() != sc.canonical_key()


def test_canonical_key_translations():
    assert bcc().translated([0.5, 0.5, 0.5]).canonical_key() == bcc().canonical_key()  # same segments
    f = simple_cubic()
    moved = f.translated([0.5, 0.5, 0.5])  # lines through the cell centre instead of the origin
    assert moved.canonical_key() != f.canonical_key()  # only the given translations are reduced
    shifts = list(itertools.product([0.0, 0.5], repeat=3))
    assert moved.canonical_key(translations=shifts) == f.canonical_key(translations=shifts)
    other = f.translated([0.25, 0, 0])
    assert other.canonical_key(translations=shifts) != f.canonical_key(translations=shifts)


def test_replace_revalidates():
    with pytest.raises(FrameError, match="radius"):
        bcc().replace(radius=-1.0)
    assert bcc().replace(radius=0.2).radius == 0.2


# ----------------------------------------------------------------------------- merge_collinear
def _split_simple_cubic(radius=0.05, bend=0.0):
    return PeriodicFrame(
        EYE,
        [[0, 0, 0], [0.5, bend, 0]],
        [[0, 1], [1, 0], [0, 0], [0, 0]],
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
        radius,
    )


def test_merge_collinear_removes_split_node():
    merged = merge_collinear(_split_simple_cubic())
    assert (merged.n_nodes, merged.n_struts) == (1, 3)
    np.testing.assert_allclose(
        sorted(map(tuple, np.abs(merged.strut_vectors()))), [(0, 0, 1), (0, 1, 0), (1, 0, 0)], atol=1e-12
    )
    assert merged.radius == 0.05


def test_merge_collinear_keeps_bent_and_unequal_radius_nodes():
    bent = _split_simple_cubic(bend=0.1)
    assert merge_collinear(bent) is bent
    unequal = _split_simple_cubic(radius=[0.05, 0.06, 0.05, 0.05])
    assert merge_collinear(unequal) is unequal


def test_merge_collinear_chain_of_several_nodes_and_design_space_frame():
    # the x line of the design-space simple cubic with e0 on it: 0, 0.25, 0.5, 0.75 along x
    f = PeriodicFrame(
        EYE,
        [[0, 0, 0], [0.25, 0, 0], [0.5, 0, 0], [0.75, 0, 0]],
        [[0, 1], [1, 2], [2, 3], [3, 0], [0, 0], [0, 0]],
        [[0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    merged = merge_collinear(f)
    assert (merged.n_nodes, merged.n_struts) == (1, 3)
    assert merged.periodic_connectivity() == (1, 3, 1)


# ----------------------------------------------------------------------------- uniform_radius
def test_uniform_radius_gives_the_relative_density_of_frames_and_design_space_graphs():
    from trussvae.design_space import TrussGraph

    f = bcc()
    r = uniform_radius(0.1, float(f.strut_lengths().sum()), f.cell_volume())
    assert f.replace(radius=r).relative_density() == pytest.approx(0.1, rel=1e-12)
    assert f.with_relative_density(0.1).radius == pytest.approx(r, rel=1e-12)
    g = TrussGraph.from_edges([("v0", "v1"), ("v0", "v2"), ("v0", "v4")])
    assert g.to_frame(relative_density=0.1).relative_density() == pytest.approx(0.1, rel=1e-12)


@pytest.mark.parametrize("rho, length, match", [(0.0, 1.0, "relative_density"), (1.5, 1.0, "relative_density"),
                                                (float("nan"), 1.0, "relative_density"), (0.1, 0.0, "length")])
def test_uniform_radius_rejects_bad_input(rho, length, match):
    with pytest.raises(FrameError, match=match):
        uniform_radius(rho, length)
