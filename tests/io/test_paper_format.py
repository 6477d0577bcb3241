"""The paper's published file format: read, write, frame detection, clear errors, CLI import.

The hand-made files below follow shared/paper_code/FACTS.md (sections 1.1-1.4, 2.1-2.4, 3.1)
directly: node table, offset maps and file layout are written out here, independently of
``trussvae.io.paper_format``'s own tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from trussvae.design_space import octant
from trussvae.fem import homogenize
from trussvae.fem.elasticity import ORTHOTROPIC_NAMES, orthotropic_components, youngs_moduli
from trussvae.generation import elementary
from trussvae.io import LatticeStore
from trussvae.io.paper_format import PaperFormatError, read_paper_dataset, write_paper_dataset

ROOT = Path(__file__).resolve().parents[2]

# FACTS.md 1.1: nodesInit.csv, index = 9k + p (z = k/2), snake order in (x, y)
NODES_INIT = np.array([
    [0, 0, 0], [0.5, 0, 0], [1, 0, 0], [1, 0.5, 0], [0.5, 0.5, 0], [0, 0.5, 0], [0, 1, 0], [0.5, 1, 0], [1, 1, 0],
    [0, 0, .5], [.5, 0, .5], [1, 0, .5], [1, .5, .5], [.5, .5, .5], [0, .5, .5], [0, 1, .5], [.5, 1, .5], [1, 1, .5],
    [0, 0, 1], [0.5, 0, 1], [1, 0, 1], [1, 0.5, 1], [0.5, 0.5, 1], [0, 0.5, 1], [0, 1, 1], [0.5, 1, 1], [1, 1, 1]])
EDGE_NODES = {1: "x", 7: "x", 19: "x", 25: "x", 3: "y", 5: "y", 21: "y", 23: "y", 9: "z", 11: "z", 15: "z", 17: "z"}

# FACTS.md 3.1: the four base lattices (bars as nodesInit pairs) and the lattice each one is
BASE = {
    "B2": ([(0, 13), (13, 26)], "bcc"),
    "A1": ([(8, 17), (17, 26), (20, 21), (21, 26), (24, 25), (25, 26)], "simple_cubic"),
    "A2": ([(0, 1), (0, 5), (0, 9), (1, 2), (2, 3), (2, 11), (3, 8), (5, 6), (6, 7), (6, 15), (7, 8), (8, 17),
            (9, 18), (11, 20), (15, 24), (17, 26), (18, 19), (18, 23), (19, 20), (20, 21), (21, 26), (23, 24),
            (24, 25), (25, 26)], "simple_cubic_2x2x2"),
    "C2": ([(2, 4), (2, 10), (2, 12), (4, 6), (6, 14), (6, 16), (10, 18), (12, 26), (14, 18), (16, 26), (18, 22),
            (22, 26)], "octet"),
}


def _hand_files(directory, structures, stiffness=None, table=NODES_INIT, value=4.0, upper_only=False):
    """Write the paper's files by hand. ``structures``: list of (bars, {node: {axis: offset}})."""
    directory.mkdir(parents=True, exist_ok=True)
    n = len(structures)
    adj = np.zeros((27 * n, 27))
    off = np.zeros((27 * n, 3))
    pos = np.tile(np.asarray(table, float), (n, 1))
    for s, (bars, moves) in enumerate(structures):
        for i, j in bars:
            adj[27 * s + min(i, j), max(i, j)] = value  # the generator's value quirk (4.0) ...
            if not upper_only:
                adj[27 * s + max(i, j), min(i, j)] = value  # ... symmetric blocks, zero diagonal
        for node, axes in moves.items():
            for axis, r in axes.items():
                c = "xyz".index(axis)
                off[27 * s + node, c] = r
                edge = node in EDGE_NODES
                pos[27 * s + node, c] = 0.5 + r if edge else (1 - r) / 2  # FACTS 1.3 maps
    sp.save_npz(directory / "adjacency-matrix.npz", sp.csr_matrix(adj))
    sp.save_npz(directory / "node-offset.npz", sp.csr_matrix(off))
    sp.save_npz(directory / "node-position.npz", sp.csr_matrix(pos))
    if stiffness is not None:
        np.savetxt(directory / "stiffness-vec.csv", np.asarray(stiffness), delimiter=",")
    return directory


@pytest.fixture(scope="module")
def generated():
    from trussvae.generation import generate_structures

    return generate_structures(200, seed=0)


def test_round_trip_of_generated_data(tmp_path, generated):
    stiffness = orthotropic_components(np.random.default_rng(1).random((200, 6, 6)))
    res = write_paper_dataset(tmp_path, generated, stiffness)
    assert res["n"] == 200 and res["frame"] == "nodes_init"
    graphs, C, info = read_paper_dataset(tmp_path)
    assert [g.canonical_hash() for g in graphs] == [g.canonical_hash() for g in generated]
    for a, b in zip(graphs, generated):
        assert np.array_equal(a.adjacency, b.adjacency)
        assert np.array_equal(a.positions[a.active], b.positions[b.active])
    np.testing.assert_array_equal(C, stiffness)
    assert info["n"] == 200 and info["frame"] == "nodes_init" and info["frame_source"] == "offsets"
    assert info["units"] == "as published" and info["stiffness_components"] == list(ORTHOTROPIC_NAMES)
    # the layout the paper's reader expects (FACTS 2.1-2.4)
    A = sp.load_npz(tmp_path / "adjacency-matrix.npz").toarray().reshape(200, 27, 27)
    assert set(np.unique(A)) <= {0.0, 1.0}
    assert np.array_equal(A, A.transpose(0, 2, 1)) and not A[:, range(27), range(27)].any()
    assert A.sum() / 2 == sum(g.n_struts for g in generated)
    off = sp.load_npz(tmp_path / "node-offset.npz").toarray().reshape(200, 27, 3)
    pos = sp.load_npz(tmp_path / "node-position.npz").toarray().reshape(200, 27, 3)
    moved = off[:, 4, 0] != 0  # face node 4 (z = 0): position_x = (1 - offset_x) / 2
    assert moved.any()
    np.testing.assert_allclose(pos[moved, 4, 0], (1 - off[moved, 4, 0]) / 2, atol=1e-12)
    edge = off[:, 1, 0] != 0  # edge node 1 (x): position_x = 0.5 + offset_x
    np.testing.assert_allclose(pos[edge, 1, 0], 0.5 + off[edge, 1, 0], atol=1e-12)
    free = np.zeros((27, 3), bool)
    for node, axis in EDGE_NODES.items():
        free[node, "xyz".index(axis)] = True
    for nodes, axes in (([4, 22], [0, 1]), ([12, 14], [1, 2]), ([10, 16], [0, 2]), ([13], [0, 1, 2])):
        free[np.ix_(nodes, axes)] = True  # face and body nodes (FACTS 1.1)
    assert free.sum() == 27
    assert not off[:, ~free].any()  # offsets only in nodesInit's free slots (FACTS 1.4)
    rows = (tmp_path / "stiffness-vec.csv").read_text().splitlines()
    assert len(rows) == 200 and all(len(r.split(",")) == 9 for r in rows)
    float(rows[0].split(",")[0])  # no header


@pytest.mark.parametrize("name", list(BASE))
def test_base_lattices_written_by_hand(tmp_path, name):
    bars, lattice = BASE[name]
    graphs, C, info = read_paper_dataset(_hand_files(tmp_path, [(bars, {})]))
    assert C is None and info["n"] == 1
    assert graphs[0].n_struts == len(bars)
    assert graphs[0] == elementary(lattice)


def test_upper_triangle_storage_and_any_positive_value_load_alike(tmp_path):
    bars = BASE["C2"][0]
    a = read_paper_dataset(_hand_files(tmp_path / "a", [(bars, {})], value=1.0))[0][0]
    b = read_paper_dataset(_hand_files(tmp_path / "b", [(bars, {})], value=16.0, upper_only=True))[0][0]
    assert np.array_equal(a.adjacency, b.adjacency)


def test_simple_cubic_homogenizes_to_rho_over_3(tmp_path):
    graph = read_paper_dataset(_hand_files(tmp_path, [(BASE["A2"][0], {})]))[0][0]
    E = youngs_moduli(homogenize(graph.to_frame(relative_density=0.15)))
    np.testing.assert_allclose(E, 0.15 / 3, rtol=1e-6)


def test_offset_maps_edge_and_face(tmp_path):
    # A2 with edge node 1 moved by r = 0.2 and C2 with face node 4 (z = 0) moved by (s, t) = (0.3, -0.2)
    structures = [(BASE["A2"][0], {1: {"x": 0.2}}), (BASE["C2"][0], {4: {"x": 0.3, "y": -0.2}})]
    graphs, _, info = read_paper_dataset(_hand_files(tmp_path, structures))
    e0, f4 = octant.node_index("e0"), octant.node_index("f4")  # our nodes at (0.5, 0, 0) and (0.5, 0.5, 0)
    np.testing.assert_allclose(graphs[0].positions[e0], [0.7, 0, 0])
    np.testing.assert_allclose(graphs[1].positions[f4], [(1 - 0.3) / 2, (1 + 0.2) / 2, 0])
    assert info["frame"] == "nodes_init" and info["nonzero_offset_slots"] == ["1x", "4x", "4y"]
    assert graphs[0].validate() == [] and graphs[1].validate() == []


def test_swapped_frame_is_detected_and_frame_overrides(tmp_path):
    swapped = NODES_INIT[:, [1, 0, 2]]  # models/utils.py: node i at the x<->y swapped position
    # in that table node 1 sits at (0, 0.5, 0) and moves along y; node 4 (face z=0) along x, y
    moves = {1: {"y": 0.2}, 4: {"x": 0.3, "y": -0.2}}
    # the three split edges at the origin, plus (0, 0.5, 0) - face node 4 - (1, 1, 0)
    bars = [(0, 1), (1, 2), (0, 5), (5, 6), (0, 9), (9, 18), (1, 4), (4, 8)]
    directory = _hand_files(tmp_path, [(bars, moves)], table=swapped)
    EDGE_NODES_SW = {k: {"x": "y", "y": "x"}.get(v, v) for k, v in EDGE_NODES.items()}
    assert EDGE_NODES_SW[1] == "y"
    graphs, _, info = read_paper_dataset(directory)
    assert info["frame"] == "swapped_xy" and info["frame_source"] == "offsets"
    g = graphs[0]
    e3, f4 = octant.node_index("e3"), octant.node_index("f4")  # (0, 0.5, 0) and (0.5, 0.5, 0)
    np.testing.assert_allclose(g.positions[e3], [0, 0.7, 0])
    np.testing.assert_allclose(g.positions[f4], [0.35, 0.6, 0])
    assert g.adjacency[e3, octant.node_index("v3")] and g.adjacency[e3, f4]
    # the same structure described in nodesInit numbering is the same truss
    same = [(0, 5), (5, 6), (0, 1), (1, 2), (0, 9), (9, 18), (5, 4), (4, 8)]
    direct = read_paper_dataset(_hand_files(tmp_path / "direct", [(same, {5: {"y": 0.2},
                                                                           4: {"x": 0.3, "y": -0.2}})]))[0][0]
    assert direct == g
    assert read_paper_dataset(directory, frame="swapped_xy")[2]["frame_source"] == "argument"
    with pytest.raises(PaperFormatError, match=r"node-offset.npz: structure 0 .*row 1 = paper node 1, column y"
                                               r".*fixed coordinate of the nodes_init.*frame='nodes_init' was given"):
        read_paper_dataset(directory, frame="nodes_init")
    with pytest.raises(ValueError, match="frame must be one of"):
        read_paper_dataset(directory, frame="xy")


def test_frame_from_positions_when_offsets_do_not_tell(tmp_path, generated):
    sw = _hand_files(tmp_path / "sw", [(BASE["A2"][0], {9: {"z": 0.1}})], table=NODES_INIT[:, [1, 0, 2]])
    graphs, _, info = read_paper_dataset(sw)
    assert (info["frame"], info["frame_source"]) == ("swapped_xy", "positions")
    assert graphs[0].positions[octant.node_index("e8"), 2] == pytest.approx(0.6)
    assert read_paper_dataset(_hand_files(tmp_path / "ni", [(BASE["A2"][0], {})]))[2]["frame_source"] == "positions"
    write_paper_dataset(tmp_path / "w", generated[:50], frame="swapped_xy")
    graphs, _, info = read_paper_dataset(tmp_path / "w")
    assert info["frame"] == "swapped_xy"
    assert [g.canonical_hash() for g in graphs] == [g.canonical_hash() for g in generated[:50]]


# ----------------------------------------------------------------------------- bad files
def _good(tmp_path):
    structures = [(BASE[k][0], {}) for k in ("A2", "C2", "B2")]
    structures[1] = (BASE["C2"][0], {4: {"x": 0.3, "y": -0.2}})
    structures[0] = (BASE["A2"][0], {1: {"x": 0.2}})
    return _hand_files(tmp_path / "good", structures, stiffness=np.arange(27.0).reshape(3, 9) + 1)


def _edit_npz(path, fn):
    m = sp.load_npz(path).toarray()
    m = fn(m)
    sp.save_npz(path, sp.csr_matrix(m))


def _set(r, c, v):
    def fn(m):
        m[r, c] = v
        return m
    return fn


BAD = {
    "missing": (lambda d: (d / "node-offset.npz").unlink(), r"node-offset.npz: missing"),
    "shape": (lambda d: _edit_npz(d / "node-offset.npz", lambda m: m[:, :2]),
              r"node-offset.npz: expected a matrix of shape \(27 N, 3\).*\(81, 2\)"),
    "rows": (lambda d: _edit_npz(d / "adjacency-matrix.npz", lambda m: m[:-1]),
             r"adjacency-matrix.npz: expected a matrix of shape \(27 N, 27\).*\(80, 27\)"),
    "n_mismatch": (lambda d: (d / "stiffness-vec.csv").write_text("\n".join(
        (d / "stiffness-vec.csv").read_text().splitlines()[:2])),
        r"different numbers of structures: adjacency-matrix.npz 3, node-offset.npz 3, node-position.npz 3, "
        r"stiffness-vec.csv 2"),
    "n_mismatch_npz": (lambda d: _edit_npz(d / "node-position.npz", lambda m: m[:54]),
                       r"different numbers of structures.*node-position.npz 2"),
    "negative": (lambda d: _edit_npz(d / "adjacency-matrix.npz", _set(27 + 4, 2, -1.0)),
                 r"adjacency-matrix.npz: structure 1 \(rows 27-53\), row 31 = paper node 4, column 2: entry -1.0 "
                 r"is negative"),
    "self_loop": (lambda d: _edit_npz(d / "adjacency-matrix.npz", _set(54 + 13, 13, 1.0)),
                  r"adjacency-matrix.npz: structure 2 \(rows 54-80\), row 67 = paper node 13: non-zero diagonal"),
    "nan_adjacency": (lambda d: _edit_npz(d / "adjacency-matrix.npz", _set(3, 8, np.nan)),
                      r"adjacency-matrix.npz: structure 0 \(rows 0-26\), row 3 = paper node 3, column 8: value nan "
                      r"is not finite"),
    "offset_range_edge": (lambda d: _edit_npz(d / "node-offset.npz", _set(54 + 1, 0, 0.7)),
                          r"node-offset.npz: structure 2 \(rows 54-80\), row 55 = paper node 1, column x: offset 0.7 "
                          r"is out of range \(edge node"),
    "offset_range_face": (lambda d: _edit_npz(d / "node-offset.npz", _set(27 + 4, 1, -1.5)),
                          r"node-offset.npz: structure 1 .*row 31 = paper node 4, column y: offset -1.5 is out of "
                          r"range \(face node: position = \(1 - s\)/2 needs s in \[-1, 1\]"),
    "offset_vertex": (lambda d: _edit_npz(d / "node-offset.npz", _set(27 + 8, 2, 0.1)),
                      r"node-offset.npz: structure 1 .*row 35 = paper node 8, column z: offset 0.1 is out of range "
                      r"\(vertex"),
    "offset_nan": (lambda d: _edit_npz(d / "node-offset.npz", _set(27 + 4, 0, np.nan)),
                   r"node-offset.npz: structure 1 .*row 31 = paper node 4, column x: value nan is not finite"),
    "offset_fixed": (lambda d: _edit_npz(d / "node-offset.npz", _set(1, 2, 0.1)),
                     r"fit neither node numbering: node-offset.npz: structure 0 .*row 1 = paper node 1, column z"),
    "edge_end": (lambda d: (_edit_npz(d / "node-offset.npz", _set(1, 0, -0.5)),
                            _edit_npz(d / "node-position.npz", _set(1, 0, 0.0))),
                 r"node-offset.npz: structure 0 .*row 1 = paper node 1, column x: offset -0.5 puts the active edge "
                 r"node on the boundary.*cannot be represented"),
    "position": (lambda d: _edit_npz(d / "node-position.npz", _set(27 + 4, 0, 0.5)),
                 r"node-position.npz: structure 1 .*row 31 = paper node 4, column x: position 0.5 differs from "
                 r"0.35"),
    "csv_nan": (lambda d: (d / "stiffness-vec.csv").write_text("1,2,3,4,5,6,7,8,9\n1,2,nan,4,5,6,7,8,9\n"
                                                               "1,2,3,4,5,6,7,8,9\n"),
                r"stiffness-vec.csv: line 2 \(structure 1\): non-finite stiffness"),
    "csv_header": (lambda d: (d / "stiffness-vec.csv").write_text(",".join(ORTHOTROPIC_NAMES) + "\n"
                                                                  + "1,2,3,4,5,6,7,8,9\n" * 3),
                   r"stiffness-vec.csv: line 1 \(structure 0\): 'C1111' is not a number \(the paper's csv has no "
                   r"header"),
    "csv_columns": (lambda d: (d / "stiffness-vec.csv").write_text("1,2,3,4,5,6,7,8,9\n" * 2 + "1,2,3\n"),
                    r"stiffness-vec.csv: line 3 \(structure 2\): expected 9 comma-separated values.* got 3"),
    "not_sparse": (lambda d: (d / "node-position.npz").write_bytes(b"garbage"),
                   r"node-position.npz: cannot read as a scipy sparse .npz"),
}


def test_good_directory_reads(tmp_path):
    graphs, C, info = read_paper_dataset(_good(tmp_path))
    assert len(graphs) == 3 and C.shape == (3, 9) and info["frame"] == "nodes_init"


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_fail_naming_file_and_row(tmp_path, case):
    spoil, message = BAD[case]
    directory = _good(tmp_path)
    spoil(directory)
    with pytest.raises(PaperFormatError, match=message):
        read_paper_dataset(directory)


def test_dense_npz_and_missing_directory(tmp_path):
    directory = _good(tmp_path)
    m = sp.load_npz(directory / "node-offset.npz").toarray()
    np.savez(directory / "node-offset.npz", m)  # a dense array also loads
    assert len(read_paper_dataset(directory)[0]) == 3
    with pytest.raises(PaperFormatError, match="not a directory"):
        read_paper_dataset(tmp_path / "nowhere")


def test_write_refuses_to_overwrite_and_bad_stiffness(tmp_path, generated):
    write_paper_dataset(tmp_path, generated[:3], np.ones((3, 9)))
    with pytest.raises(FileExistsError):
        write_paper_dataset(tmp_path, generated[:3])
    write_paper_dataset(tmp_path, generated[:3], overwrite=True)
    assert not (tmp_path / "stiffness-vec.csv").exists() and read_paper_dataset(tmp_path)[1] is None
    with pytest.raises(ValueError, match="stiffness row 1 is not finite"):
        write_paper_dataset(tmp_path / "x", generated[:3], np.array([[1.0] * 9, [np.nan] * 9, [1.0] * 9]))
    with pytest.raises(ValueError, match=r"shape \(3, 9\) or \(3, 6, 6\)"):
        write_paper_dataset(tmp_path / "y", generated[:3], np.ones((3, 6)))


# ----------------------------------------------------------------------------- CLI
def _run(*args, cwd):
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0",
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, str(ROOT / "homogenize.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def small_paper_dir(tmp_path_factory):
    """The four base lattices with their FE stiffness x 1000 (a file 'in other units')."""
    d = tmp_path_factory.mktemp("paper")
    structures = [(BASE[k][0], {}) for k in BASE]
    structures.append((BASE["A2"][0], {1: {"x": 0.2}, 9: {"z": -0.1}}))
    _hand_files(d, structures)
    graphs = read_paper_dataset(d)[0]
    C = orthotropic_components(np.stack([homogenize(g.to_frame(relative_density=0.15)) for g in graphs]))
    np.savetxt(d / "stiffness-vec.csv", 1000 * C, delimiter=",")
    return d, C


@pytest.mark.parametrize("labels", [False, True])
def test_cli_import(tmp_path, small_paper_dir, labels):
    directory, C = small_paper_dir
    args = [f"import_paper={directory}", f"out={tmp_path}/store", "scheduler=sync", "progress=false", "chunk_size=2",
            f"hydra.run.dir={tmp_path}/run"] + (["labels=true"] if labels else [])
    r = _run(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "imported 5 structures (nodes_init numbering" in r.stdout
    store = LatticeStore(tmp_path / "store")
    assert len(store) == 5 and store.label_chunks("paper") == [0, 1, 2]
    paper = store.load_labels("paper")
    np.testing.assert_allclose(paper["orthotropic"], 1000 * C, rtol=1e-12)
    assert paper["stiffness"].shape == (5, 6, 6) and paper["ok"].all()
    meta = json.loads((tmp_path / "store" / "meta.json").read_text())
    assert meta["generator"]["name"] == "paper_files" and meta["generator"]["frame"] == "nodes_init"
    assert set(meta["generator"]["files"]) == {"adjacency-matrix.npz", "node-position.npz", "node-offset.npz",
                                               "stiffness-vec.csv"}
    assert meta["labels"]["paper"]["units"] == "as published" and meta["n"] == 5
    assert meta["source_directory"] == str(Path(directory).resolve())
    read = read_paper_dataset(directory)[0]
    assert [g.canonical_hash() for g in store.graphs()] == [g.canonical_hash() for g in read]
    if labels:
        ours = store.load_labels("linear")["orthotropic"]
        np.testing.assert_allclose(ours, C, rtol=1e-8, atol=1e-12)
        assert meta["paper_comparison"]["scale"] == pytest.approx(1000)
        assert "about 1000 x our FE values" in r.stdout and "R2" in r.stdout and "C2323" in r.stdout
    else:
        assert "linear" not in store.meta.get("labels", {}) and "paper_comparison" not in meta


def test_cli_import_bad_directory_fails_clearly(tmp_path):
    r = _run(f"import_paper={tmp_path}", f"out={tmp_path}/store", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert r.returncode != 0 and "adjacency-matrix.npz: missing" in r.stderr + r.stdout
