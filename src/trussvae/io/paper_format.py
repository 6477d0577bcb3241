"""Read and write the file format of Zheng et al. 2023's published data set.

The paper's data (ETH research collection) come as four files in one directory::

    adjacency-matrix.npz   scipy sparse (27 N, 27): block k (rows 27k..27k+26) is structure k's
                           adjacency; the paper's reader adds each block's transpose and sets
                           every non-zero entry to 1 (the generator writes symmetric blocks with
                           a zero diagonal, values 1 or 4)
    node-position.npz      scipy sparse (27 N, 3): node positions in the octant [0, 1]^3 (all 27
                           nodes, inactive ones at their nominal positions)
    node-offset.npz        scipy sparse (27 N, 3): the "ptb" offset of each node, in the column
                           of the coordinate it controls (fixed columns, vertices, inactive and
                           unmoved nodes 0)
    stiffness-vec.csv      N rows x 9, comma separated, no header: C1111 C1122 C1133 C2222
                           C2233 C3333 C2323 C3131 C1212, units as published (not stated)

Conventions that differ from ours (``trussvae.design_space.octant``, docs/design_space.md):

* **Node numbering** (``nodesInit.csv``): node ``9 k + p`` sits at z = k/2, and ``p`` runs over the
  (x, y) grid in a snake order: y = 0 with x ascending, y = 1/2 with x descending, y = 1 with x
  ascending. A second table of the paper's code (``models/utils.py``) is its x<->y mirror image
  (node i at the swapped coordinates of nodesInit node i): frame ``"swapped_xy"``. Both place the
  octant at [0, 1]^3 with the mirror centre at the origin, as ours does, so a node maps to the
  template node at the same position.
* **Offsets**: edge node ``position = 0.5 + r`` (ours: ``offset = r``); face and body nodes
  ``position = (1 - s) / 2`` per free coordinate (ours: ``offset = -s / 2``).
* **Adjacency**: zero diagonal (ours: ``A_ii = 1``); a non-zero diagonal entry is a self-loop.

The frame of a file is detected from which offset slots are ever non-zero (the paper's
``ptb_mask``): each numbering allows offsets only in its nodes' free coordinates. When the
offsets fit both (no x or y offsets at all), the fixed coordinates of ``node-position.npz``
decide. An explicit ``frame=`` overrides the detection; data contradicting it are an error.

Every problem of a file raises :class:`PaperFormatError` naming the file and the row (structure
``k`` is rows ``27k..27k+26`` of a ``.npz`` matrix, line ``k+1`` of the csv).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from trussvae.design_space import TrussGraph, octant
from trussvae.fem.elasticity import ORTHOTROPIC_NAMES, orthotropic_components

__all__ = ["PaperFormatError", "PaperDataset", "open_paper_dataset", "read_paper_dataset", "write_paper_dataset",
           "paper_node_positions", "paper_to_template", "compare_stiffness", "format_comparison",
           "FILES", "FRAMES", "UNITS"]

#: the four files of a data set, by role
FILES = {"adjacency": "adjacency-matrix.npz", "positions": "node-position.npz", "offsets": "node-offset.npz",
         "stiffness": "stiffness-vec.csv"}
#: node numberings: nodesInit.csv (the generator's) and its x<->y mirror (models/utils.py)
FRAMES = ("nodes_init", "swapped_xy")
#: what ``info["units"]`` says of the stiffness: the paper states no units
UNITS = "as published"
#: tolerance when comparing node-position.npz with the offsets (float32 files)
POSITION_TOL = 1e-5
_AXES = "xyz"
_NN = octant.N_NODES


class PaperFormatError(ValueError):
    """A file of the paper's format is missing or malformed (the message names file and row)."""


# ----------------------------------------------------------------------------- node tables
def paper_node_positions(frame: str = "nodes_init") -> np.ndarray:
    """(27, 3) nominal positions of the paper's nodes in ``frame`` (natural coordinates)."""
    _check_frame(frame)
    grid = [(0, 0), (0.5, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0, 0.5), (0, 1), (0.5, 1), (1, 1)]
    pos = np.array([(x, y, 0.5 * k) for k in range(3) for x, y in grid], dtype=np.float64)
    return pos if frame == "nodes_init" else pos[:, [1, 0, 2]]


def paper_to_template(frame: str = "nodes_init") -> np.ndarray:
    """(27,) index of our template node at the position of each of the paper's nodes."""
    pos = paper_node_positions(frame)
    match = np.all(np.isclose(pos[:, None, :], octant.TEMPLATE_POSITIONS[None, :, :]), axis=-1)
    assert np.all(match.sum(axis=1) == 1)
    return np.argmax(match, axis=1)


def _check_frame(frame) -> None:
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES} (or None to detect it), got {frame!r}")


def _free(frame: str) -> np.ndarray:
    """(27, 3) free coordinates of the paper's nodes in ``frame``."""
    return np.asarray(octant.FREE_MASK)[paper_to_template(frame)]


#: node class by paper index (identical in both frames): True for edge nodes (one free coordinate)
_EDGE = _free("nodes_init").sum(axis=1) == 1
_CLASS = np.array(["vertex", "edge", "face", "body"])[_free("nodes_init").sum(axis=1)]
#: largest |offset| the paper's maps accept: vertex 0, edge r in [-0.5, 0.5], face/body s in [-1, 1]
_BOUND = np.where(_CLASS == "vertex", 0.0, np.where(_EDGE, 0.5, 1.0))


def _row(fname: str, row: int, col: int | None = None) -> str:
    """``file: structure k (rows ..), row r = paper node i[, column c]`` (columns: x, y, z of the
    (27 N, 3) files; the paper node of the (27 N, 27) adjacency)."""
    s, i = divmod(int(row), _NN)
    where = f"{fname}: structure {s} (rows {_NN * s}-{_NN * s + _NN - 1}), row {row} = paper node {i}"
    if col is None:
        return where
    return where + (f", column {_AXES[col]}" if fname != FILES["adjacency"] else f", column {col}")


# ----------------------------------------------------------------------------- file reading
def _load_matrix(path: Path, n_cols: int) -> sp.csr_matrix:
    """A (27 N, n_cols) matrix from a scipy-sparse .npz (or an .npz holding one dense array)."""
    if not path.is_file():
        raise PaperFormatError(f"{path}: missing; a data set in the paper's format is a directory holding "
                               f"{', '.join(FILES.values())} (the csv is optional)")
    try:
        m = sp.load_npz(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        try:
            with np.load(path) as z:
                if len(z.files) != 1:
                    raise PaperFormatError(f"{path}: not a scipy sparse matrix file and not a single array "
                                           f"(arrays {z.files}; {exc})") from exc
                m = np.asarray(z[z.files[0]])
        except (OSError, ValueError, zipfile.BadZipFile) as exc2:
            raise PaperFormatError(f"{path}: cannot read as a scipy sparse .npz ({exc}; {exc2})") from exc2
    if m.ndim != 2 or m.shape[1] != n_cols or m.shape[0] % _NN or m.shape[0] == 0:
        raise PaperFormatError(f"{path}: expected a matrix of shape (27 N, {n_cols}) with N >= 1, got shape "
                               f"{m.shape}")
    if not (np.issubdtype(m.dtype, np.number) or m.dtype == bool) or np.issubdtype(m.dtype, np.complexfloating):
        raise PaperFormatError(f"{path}: expected real numbers, got dtype {m.dtype}")
    m = sp.csr_matrix(m, dtype=np.float64)
    m.sum_duplicates()
    m.eliminate_zeros()  # NaN stays (NaN != 0)
    return m


def _entries(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, value) of the stored entries of ``m``."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return rows, m.indices.astype(np.int64), m.data


def _first(m: sp.csr_matrix, bad: np.ndarray) -> tuple[int, int, float]:
    """(row, col, value) of the first stored entry flagged in ``bad`` (a mask over ``m.data``)."""
    k = int(np.flatnonzero(bad)[0])
    return int(np.searchsorted(m.indptr, k, side="right") - 1), int(m.indices[k]), float(m.data[k])


def _check_finite(m: sp.csr_matrix, fname: str) -> None:
    bad = ~np.isfinite(m.data)
    if bad.any():
        r, c, v = _first(m, bad)
        n = int(bad.sum())
        raise PaperFormatError(f"{_row(fname, r, c)}: value {v} is not finite "
                               f"({n} non-finite entr{'y' if n == 1 else 'ies'} in the file)")


def _read_stiffness(path: Path) -> np.ndarray:
    fname = path.name
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PaperFormatError(f"{path}: cannot read ({exc})") from exc
    rows, lines = [], []
    for k, line in enumerate(text.splitlines(), 1):
        if line.strip():
            rows.append(line.split(","))
            lines.append(k)
    if not rows:
        raise PaperFormatError(f"{path}: empty; expected one row of 9 comma-separated numbers per structure")
    for s, (k, parts) in enumerate(zip(lines, rows)):
        if len(parts) != 9:
            raise PaperFormatError(f"{fname}: line {k} (structure {s}): expected 9 comma-separated values "
                                   f"(C1111 C1122 C1133 C2222 C2233 C3333 C2323 C3131 C1212), got {len(parts)}")
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        for s, (k, parts) in enumerate(zip(lines, rows)):
            for p in parts:
                try:
                    float(p)
                except ValueError:
                    raise PaperFormatError(f"{fname}: line {k} (structure {s}): {p.strip()!r} is not a number "
                                           "(the paper's csv has no header row)") from None
        raise
    bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
    if bad.size:
        s = int(bad[0])
        raise PaperFormatError(f"{fname}: line {lines[s]} (structure {s}): non-finite stiffness {values[s].tolist()}")
    return values


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- the data set
class PaperDataset:
    """A directory in the paper's format, checked and ready to convert in blocks.

    Opening it loads the three matrices, checks shapes, N across files, finite values, the
    adjacency (non-negative, no self-loops), the offset ranges and the numbering (``frame``);
    with ``check=True`` (default) it also converts every structure once, so that a file's
    problems surface before anything is written. ``graphs(start, stop)`` converts a block.
    """

    def __init__(self, directory: str | Path, frame: str | None = None, check: bool = True,
                 check_positions: bool = True, block_size: int = 10000):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise PaperFormatError(f"{self.directory}: not a directory; expected one holding "
                                   f"{', '.join(FILES.values())}")
        self.paths = {k: self.directory / v for k, v in FILES.items()}
        self.adjacency = _load_matrix(self.paths["adjacency"], _NN)
        self.offsets = _load_matrix(self.paths["offsets"], 3)
        self.positions = _load_matrix(self.paths["positions"], 3)
        counts = {FILES[k]: getattr(self, k).shape[0] // _NN for k in ("adjacency", "offsets", "positions")}
        self.stiffness = _read_stiffness(self.paths["stiffness"]) if self.paths["stiffness"].is_file() else None
        if self.stiffness is not None:
            counts[FILES["stiffness"]] = len(self.stiffness)
        if len(set(counts.values())) != 1:
            raise PaperFormatError(f"{self.directory}: the files hold different numbers of structures: "
                                   + ", ".join(f"{k} {v}" for k, v in counts.items())
                                   + " (a .npz holds 27 rows per structure, the csv one)")
        self.n = counts[FILES["adjacency"]]
        self.check_positions = bool(check_positions)
        for key in ("adjacency", "offsets", "positions"):
            _check_finite(getattr(self, key), FILES[key])
        self._check_adjacency()
        self._check_offset_ranges()
        self.frame, self.frame_source = self._choose_frame(frame)
        self._perm = paper_to_template(self.frame)
        self._free = _free(self.frame)
        self.block_size = int(block_size)
        if check:
            for start in range(0, self.n, self.block_size):
                self._convert(start, min(self.n, start + self.block_size))

    # -------------------------------------------------------------- global checks
    def _check_adjacency(self) -> None:
        fname = FILES["adjacency"]
        m = self.adjacency
        if (m.data < 0).any():
            r, c, v = _first(m, m.data < 0)
            raise PaperFormatError(f"{_row(fname, r, c)}: entry {v} is negative; the paper's binarisation (block + "
                                   "its transpose, non-zero -> 1) needs entries >= 0 to give a 0/1 adjacency")
        rows = np.arange(m.shape[0])
        diagonal = m.multiply(sp.csr_matrix((np.ones(m.shape[0]), (rows, rows % _NN)), shape=m.shape)).tocsr()
        diagonal.eliminate_zeros()
        if diagonal.nnz:
            r, c, _ = _first(diagonal, np.ones(diagonal.nnz, bool))
            raise PaperFormatError(f"{_row(fname, r, None)}: non-zero diagonal entry {m[r, c]} (a self-loop of "
                                   f"paper node {c}): not a strut, cannot be represented in the design space "
                                   "(the paper's data have a zero diagonal)")

    def _check_offset_ranges(self) -> None:
        fname = FILES["offsets"]
        r, c, v = _entries(self.offsets)
        node = r % _NN
        bad = np.flatnonzero(np.abs(v) > _BOUND[node])
        if bad.size:
            k = bad[0]
            i = node[k]
            rule = ("vertex: never moves" if _CLASS[i] == "vertex" else
                    "edge node: position = 0.5 + r needs r in [-0.5, 0.5]" if _EDGE[i] else
                    f"{_CLASS[i]} node: position = (1 - s)/2 needs s in [-1, 1]")
            raise PaperFormatError(f"{_row(fname, r[k], c[k])}: offset {v[k]} is out of range ({rule}; "
                                   f"{bad.size} out-of-range entr{'y' if bad.size == 1 else 'ies'} in the file)")

    def nonzero_slots(self) -> np.ndarray:
        """(27, 3) bool: offset slots that are non-zero in at least one structure (the paper's ptb_mask)."""
        r, c, _ = _entries(self.offsets)
        mask = np.zeros((_NN, 3), dtype=bool)
        mask[r % _NN, c] = True
        return mask

    def _offset_conflict(self, frame: str) -> str | None:
        """Where the offsets use a coordinate that is fixed in ``frame`` (None when they fit)."""
        r, c, v = _entries(self.offsets)
        bad = np.flatnonzero(~_free(frame)[r % _NN, c])
        if not bad.size:
            return None
        k = bad[0]
        i = r[k] % _NN
        nominal = tuple(float(x) for x in paper_node_positions(frame)[i])
        free = "".join(a for a, f in zip(_AXES, _free(frame)[i]) if f) or "nothing"
        kind = ("an " if _CLASS[i] == "edge" else "a ") + _CLASS[i]
        return (f"{_row(FILES['offsets'], r[k], c[k])}: offset {v[k]} in a fixed coordinate of the {frame} "
                f"numbering (paper node {i} at {nominal}, {kind}, moves along {free})")

    def _position_conflict(self, frame: str) -> str | None:
        """Where node-position.npz differs from the nominal position in a fixed coordinate of ``frame``."""
        fixed = ~_free(frame)
        nominal = paper_node_positions(frame)
        for start in range(0, self.n, 20000):
            stop = min(self.n, start + 20000)
            pos = self.positions[_NN * start:_NN * stop].toarray().reshape(-1, _NN, 3)
            bad = np.argwhere(fixed & (np.abs(pos - nominal) > POSITION_TOL))
            if bad.size:
                s, i, a = bad[0]
                return (f"{_row(FILES['positions'], _NN * (start + s) + i, a)}: position {pos[s, i, a]} in a "
                        f"fixed coordinate of the {frame} numbering (expected {nominal[i, a]})")
        return None

    def _choose_frame(self, frame: str | None) -> tuple[str, str]:
        if frame is not None:
            _check_frame(frame)
            conflict = self._offset_conflict(frame)
            if conflict:
                raise PaperFormatError(f"{conflict}; frame={frame!r} was given explicitly"
                                       + ("" if self._offset_conflict(_other(frame)) else
                                          f" but the offsets fit frame={_other(frame)!r}"))
            return frame, "argument"
        conflicts = {f: self._offset_conflict(f) for f in FRAMES}  # one scan of the offsets per numbering
        fits = [f for f in FRAMES if conflicts[f] is None]
        if len(fits) == 1:
            return fits[0], "offsets"
        if not fits:
            raise PaperFormatError(f"{self.directory}: the non-zero offsets fit neither node numbering: "
                                   + "; and ".join(conflicts[f] for f in FRAMES))
        conflicts = {f: self._position_conflict(f) for f in FRAMES}
        fits = [f for f in FRAMES if conflicts[f] is None]
        if len(fits) == 1:
            return fits[0], "positions"
        if not fits:
            raise PaperFormatError(f"{self.directory}: the node positions fit neither node numbering: "
                                   + "; and ".join(conflicts[f] for f in FRAMES))
        return "nodes_init", "default"  # nothing tells them apart (no structure moves an x or y slot)

    # -------------------------------------------------------------- conversion
    def _convert(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Structures ``start:stop`` as (adjacency (m, 27, 27) bool in our node order, offsets (m, 27) ours)."""
        rows = slice(_NN * start, _NN * stop)
        a = self.adjacency[rows].toarray().reshape(-1, _NN, _NN)
        off = self.offsets[rows].toarray().reshape(-1, _NN, 3)
        adj_paper = (a + a.transpose(0, 2, 1)) != 0  # the paper's binarisation
        active_paper = adj_paper.any(axis=2)
        # offset -> position maps: edge 0.5 + r, face/body (1 - s)/2 = 0.5 - s/2
        disp = np.where(self._free, np.where(_EDGE[:, None], off, -0.5 * off), 0.0)
        if self.check_positions:
            pos = self.positions[rows].toarray().reshape(-1, _NN, 3)
            expected = paper_node_positions(self.frame) + disp
            bad = np.argwhere(np.abs(pos - expected) > POSITION_TOL)
            if bad.size:
                s, i, c = bad[0]
                raise PaperFormatError(
                    f"{_row(FILES['positions'], _NN * (start + s) + i, c)}: position {pos[s, i, c]} differs from "
                    f"{expected[s, i, c]} given by node-offset.npz (offset {off[s, i, c]}, {_CLASS[i]} node, "
                    f"{self.frame} numbering); pass check_positions=False to use the offsets alone")
        edge_end = active_paper[:, :, None] & self._free & (np.abs(disp) >= 0.5)
        if edge_end.any():
            s, i, c = np.argwhere(edge_end)[0]
            where = {"edge": "edge", "face": "face", "body": "cell"}[_CLASS[i]]
            raise PaperFormatError(
                f"{_row(FILES['offsets'], _NN * (start + s) + i, c)}: offset {off[s, i, c]} puts the active "
                f"{_CLASS[i]} node on the boundary of its {where}"
                " (onto another template node's place); the design space needs it strictly inside, so this "
                "structure cannot be represented")
        perm = self._perm
        adj = np.zeros_like(adj_paper)
        adj[:, perm[:, None], perm[None, :]] = adj_paper
        node_disp = np.zeros_like(disp)
        node_disp[:, perm] = np.where(active_paper[:, :, None], disp, 0.0)
        offsets = node_disp[:, octant.DOF_INDEX[:, 0], octant.DOF_INDEX[:, 1]]
        return adj, offsets

    def arrays(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Structures ``start:stop`` in our store layout: adjacency vectors (m, 351) bool (strict upper
        triangle, our node order) and compact offsets (m, 27) (inactive nodes 0)."""
        stop = self.n if stop is None else min(int(stop), self.n)
        parts = [self._convert(s0, min(stop, s0 + self.block_size)) for s0 in range(int(start), stop, self.block_size)]
        if not parts:
            return np.zeros((0, octant.N_EDGES_CANDIDATE), bool), np.zeros((0, octant.N_DOF))
        return (np.concatenate([a[:, octant.TRIU_I, octant.TRIU_J] for a, _ in parts]),
                np.concatenate([o for _, o in parts]))

    def graphs(self, start: int = 0, stop: int | None = None) -> list[TrussGraph]:
        """TrussGraphs of structures ``start:stop`` (all when omitted)."""
        stop = self.n if stop is None else min(int(stop), self.n)
        out: list[TrussGraph] = []
        for s0 in range(int(start), stop, self.block_size):
            adj, off = self._convert(s0, min(stop, s0 + self.block_size))
            pos = octant.positions_from_offsets(off)
            out.extend(TrussGraph(a, p) for a, p in zip(adj, pos))
        return out

    @property
    def info(self) -> dict:
        mask = self.nonzero_slots()
        return {"n": self.n, "frame": self.frame, "frame_source": self.frame_source, "units": UNITS,
                "directory": str(self.directory),
                "files": {k: str(p) for k, p in self.paths.items() if p.is_file()},
                "stiffness_components": list(ORTHOTROPIC_NAMES) if self.stiffness is not None else None,
                "nonzero_offset_slots": [f"{i}{_AXES[c]}" for i, c in np.argwhere(mask)]}

    def checksums(self) -> dict[str, str]:
        """sha256 of each present file (provenance)."""
        return {p.name: _sha256(p) for p in self.paths.values() if p.is_file()}


def _other(frame: str) -> str:
    return FRAMES[1 - FRAMES.index(frame)]


def open_paper_dataset(directory: str | Path, frame: str | None = None, check: bool = True,
                       check_positions: bool = True) -> PaperDataset:
    """Open (and check) a directory in the paper's format; see :class:`PaperDataset`."""
    return PaperDataset(directory, frame=frame, check=check, check_positions=check_positions)


def read_paper_dataset(directory: str | Path, frame: str | None = None, check_positions: bool = True
                       ) -> tuple[list[TrussGraph], np.ndarray | None, dict]:
    """Read a data set in the paper's format.

    Returns ``(graphs, stiffness, info)``: ``graphs`` a list of :class:`TrussGraph` (our node order
    and offsets); ``stiffness`` (N, 9) in the file's order C1111 C1122 C1133 C2222 C2233 C3333
    C2323 C3131 C1212 and units (None without ``stiffness-vec.csv``); ``info`` with ``n``,
    ``frame`` (``"nodes_init"`` | ``"swapped_xy"``), ``frame_source`` (``"argument"``,
    ``"offsets"``, ``"positions"`` or ``"default"``), ``units`` (``"as published"``), the files and
    the non-zero offset slots (paper node + axis). ``frame`` overrides the detection.
    ``check_positions=False`` skips the comparison of ``node-position.npz`` with the offsets.
    Raises :class:`PaperFormatError` naming file and row on any problem.
    """
    ds = PaperDataset(directory, frame=frame, check=False, check_positions=check_positions)
    return ds.graphs(), ds.stiffness, ds.info


# ----------------------------------------------------------------------------- writing
def write_paper_dataset(directory: str | Path, graphs, stiffness=None, frame: str = "nodes_init",
                        overwrite: bool = False) -> dict:
    """Write ``graphs`` (and ``stiffness``) as the paper's four files in ``directory``.

    ``stiffness``: (N, 9) in the paper's component order (e.g. the ``orthotropic`` labels) or
    (N, 6, 6) Voigt stiffness; omitted -> no csv. Adjacency: symmetric 0/1 blocks with a zero
    diagonal (float64 CSR, as the paper's generator writes them up to its value quirk); offsets
    in the paper's convention (edge ``r = ours``, face/body ``s = -2 ours``; inactive nodes 0);
    positions of all 27 nodes (inactive ones nominal). ``frame`` chooses the numbering. Existing
    files are replaced only with ``overwrite=True`` (then a stale csv is removed when
    ``stiffness`` is None). Returns ``{"n", "frame", "files", "n_face_offsets_beyond_half"}``: the
    last counts face/body offsets with ``|s| > 0.5``, which the paper's generator never draws and
    its offset decoder (range (-0.5, 0.5)) cannot produce.
    """
    _check_frame(frame)
    directory = Path(directory)
    graphs = list(graphs)
    n = len(graphs)
    if n == 0:
        raise ValueError("write_paper_dataset: no structures to write")
    for k, g in enumerate(graphs):
        if not isinstance(g, TrussGraph):
            raise TypeError(f"write_paper_dataset: item {k} is a {type(g).__name__}, not a TrussGraph")
    values = None
    if stiffness is not None:
        values = np.asarray(stiffness, dtype=np.float64)
        if values.shape == (n, 6, 6):
            values = orthotropic_components(values)
        if values.shape != (n, 9):
            raise ValueError(f"write_paper_dataset: stiffness must have shape ({n}, 9) or ({n}, 6, 6), "
                             f"got {values.shape}")
        bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
        if bad.size:
            raise ValueError(f"write_paper_dataset: stiffness row {bad[0]} is not finite ({bad.size} such rows); "
                             "drop those structures first")
    present = [p for p in (directory / f for f in FILES.values()) if p.exists()]
    if present and not overwrite:
        raise FileExistsError(f"{directory} already holds {[p.name for p in present]}; pass overwrite=True to "
                              "replace them")
    perm = paper_to_template(frame)
    free = _free(frame)
    nominal = paper_node_positions(frame)
    adj = np.stack([g.adjacency for g in graphs])[:, perm[:, None], perm[None, :]]
    adj[:, np.arange(_NN), np.arange(_NN)] = False
    active = adj.any(axis=2)
    pos = np.stack([g.positions for g in graphs])[:, perm]
    disp = np.where(active[:, :, None] & free, pos - nominal, 0.0)
    fixed_err = active[:, :, None] & ~free & (np.abs(pos - nominal) > 1e-9)
    out_of_bounds = np.abs(disp) >= 0.5
    for mask, what in ((fixed_err, "moves a fixed coordinate"), (out_of_bounds, "has an offset outside (-0.5, 0.5)")):
        if mask.any():
            k, i, c = np.argwhere(mask)[0]
            raise ValueError(f"write_paper_dataset: graph {k}: node {octant.NODE_NAMES[perm[i]]} {what} "
                             f"(axis {_AXES[c]}, position {pos[k, i, c]})")
    ptb = np.where(_EDGE[:, None], disp, -2.0 * disp)
    positions = nominal + disp
    directory.mkdir(parents=True, exist_ok=True)
    sp.save_npz(directory / FILES["adjacency"], sp.csr_matrix(adj.reshape(n * _NN, _NN).astype(np.float64)))
    sp.save_npz(directory / FILES["offsets"], sp.csr_matrix(ptb.reshape(n * _NN, 3)))
    sp.save_npz(directory / FILES["positions"], sp.csr_matrix(positions.reshape(n * _NN, 3)))
    csv = directory / FILES["stiffness"]
    if values is not None:
        np.savetxt(csv, values, delimiter=",", fmt="%.17g")
    else:
        csv.unlink(missing_ok=True)
    return {"n": n, "frame": frame, "files": [str(directory / f) for f in FILES.values() if (directory / f).exists()],
            "n_face_offsets_beyond_half": int(np.sum(~_EDGE[None, :, None] & (np.abs(ptb) > 0.5)))}


# ----------------------------------------------------------------------------- comparison
def compare_stiffness(file_values, fe_values) -> dict:
    """Compare a file's stiffness with FE labels, per component (both (N, 9), paper order).

    Rows where either is non-finite are skipped. Per component: ``median_rel_diff`` (median of
    ``|file - fe| / |fe|`` over rows with ``|fe|`` above 1e-9 of the component's largest
    magnitude), ``r2`` (FE as the truth), ``median_ratio`` (file / fe) and ``r2_scaled`` (after
    dividing the file by the overall ``scale``). ``scale`` is the median ratio over the six
    diagonal components; ``verdict`` says what the numbers mean.
    """
    f = np.asarray(file_values, dtype=np.float64)
    g = np.asarray(fe_values, dtype=np.float64)
    if f.shape != g.shape or f.ndim != 2 or f.shape[1] != 9:
        raise ValueError(f"compare_stiffness: expected two (N, 9) arrays, got {f.shape} and {g.shape}")
    ok = np.all(np.isfinite(f), axis=1) & np.all(np.isfinite(g), axis=1)
    f, g = f[ok], g[ok]
    if len(f) == 0:
        raise ValueError("compare_stiffness: no row has finite values in both")
    diag = [0, 3, 5, 6, 7, 8]
    big = np.abs(g[:, diag]) > 0
    ratios = (f[:, diag] / np.where(big, g[:, diag], 1.0))[big]
    scale = float(np.median(ratios)) if ratios.size else float("nan")

    def r2(pred, true):
        ss = float(np.sum((true - true.mean()) ** 2))
        return 1.0 - float(np.sum((pred - true) ** 2)) / ss if ss > 0 else float("nan")

    comps = {}
    for k, name in enumerate(ORTHOTROPIC_NAMES):
        x, y = f[:, k], g[:, k]
        sel = np.abs(y) > 1e-9 * max(float(np.abs(y).max()), 1e-300)
        nan = float("nan")
        comps[name] = {
            "median_rel_diff": float(np.median(np.abs(x[sel] - y[sel]) / np.abs(y[sel]))) if sel.any() else nan,
            "median_ratio": float(np.median(x[sel] / y[sel])) if sel.any() else nan,
            "r2": r2(x, y), "r2_scaled": r2(x / scale, y) if np.isfinite(scale) and scale != 0 else float("nan")}
    r2_min = min(c["r2"] for c in comps.values() if np.isfinite(c["r2"]))
    r2s_min = min((c["r2_scaled"] for c in comps.values() if np.isfinite(c["r2_scaled"])), default=float("nan"))
    if np.isfinite(scale) and abs(scale - 1.0) < 0.02 and r2_min > 0.99:
        verdict = ("the file is in units of E_s at our FE settings and agrees with our FE "
                   f"(scale {scale:.4g}, R2 >= {r2_min:.4f})")
    elif np.isfinite(scale) and r2s_min > 0.99:
        verdict = (f"the file is about {scale:.4g} x our FE values: it uses other units (or another E_s); divide "
                   f"by {scale:.4g} for units of E_s (after that R2 >= {r2s_min:.4f})")
    else:
        verdict = (f"the file and our FE disagree beyond a unit factor (scale {scale:.4g}, R2 after scaling >= "
                   f"{r2s_min:.4g}): another relative density, radius rule, material or element model")
    return {"n": int(len(f)), "n_skipped": int((~ok).sum()), "scale": scale, "r2_min": r2_min,
            "r2_scaled_min": r2s_min, "components": comps, "verdict": verdict}


def format_comparison(cmp: dict) -> str:
    """Human-readable table of :func:`compare_stiffness` (with its ``fe`` settings when the caller added them)."""
    fe = cmp.get("fe")
    settings = "" if not fe else ": " + ", ".join(f"{k} {v}" for k, v in fe.items())
    lines = [f"file stiffness vs our FE{settings} ({cmp['n']} structures"
             + (f", {cmp['n_skipped']} skipped: non-finite" if cmp["n_skipped"] else "") + "):",
             f"  {'component':<10}{'median |rel diff|':>19}{'median ratio':>14}{'R2':>10}{'R2 scaled':>11}"]
    for name, c in cmp["components"].items():
        lines.append(f"  {name:<10}{c['median_rel_diff']:>19.4g}{c['median_ratio']:>14.4g}{c['r2']:>10.4f}"
                     f"{c['r2_scaled']:>11.4f}")
    lines.append(f"  units: {cmp['verdict']}")
    return "\n".join(lines)
