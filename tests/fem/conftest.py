"""Lattice builders and reference data shared by the FE tests (exposed as fixtures)."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from trussvae.fem import PeriodicFrame
from trussvae.io.reference import load_reference_catalogue

REFERENCE_JSON = Path(__file__).resolve().parents[1] / "data" / "reference" / "lattice_catalogue_abaqus.json"
SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)))


def neighbour_frame(lattice_vectors, nodes, length: float, radius: float = 0.02, tol: float = 1e-6):
    """All struts between node images at Cartesian distance ``length`` (+- tol), deduplicated."""
    lv = np.asarray(lattice_vectors, dtype=float)
    nodes = np.asarray(nodes, dtype=float)
    struts, shifts = [], []
    for i, j in itertools.product(range(len(nodes)), repeat=2):
        for s in SHIFTS:
            if j < i or (i == j and tuple(s) <= (0, 0, 0)):
                continue
            d = np.linalg.norm((nodes[j] + s - nodes[i]) @ lv)
            if abs(d - length) < tol:
                struts.append((i, j))
                shifts.append(s)
    return PeriodicFrame(lv, nodes, struts, shifts, radius)


def simple_cubic(a: float = 1.0, radius: float = 0.02):
    return PeriodicFrame(a * np.eye(3), [[0, 0, 0]], [[0, 0]] * 3, np.eye(3, dtype=int), radius)


def octet(radius: float = 0.02):
    nodes = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return neighbour_frame(np.eye(3), nodes, np.sqrt(0.5), radius)


def octet_primitive(radius: float = 0.02):
    """The octet (FCC) lattice on its triclinic primitive cell (1 node, 6 struts)."""
    lv = 0.5 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    return neighbour_frame(lv, [[0, 0, 0]], np.sqrt(0.5), radius)


def bcc(radius: float = 0.02):
    return neighbour_frame(np.eye(3), [[0, 0, 0], [0.5, 0.5, 0.5]], np.sqrt(3) / 2, radius)


def change_cell(frame: PeriodicFrame, M) -> PeriodicFrame:
    """The same infinite lattice on the cell with lattice vectors ``M @ lv`` (M integer, det >= 1).

    ``det M = 1`` is a change of basis; ``det M = k`` builds a k-fold supercell.
    """
    M = np.asarray(M, dtype=np.int64)
    lv = M @ frame.lattice_vectors
    Minv = np.linalg.inv(M)
    # coset representatives t (old fractional translations) inside the new cell
    reps = []
    for t in itertools.product(range(-3, 4), repeat=3):
        f = np.mod(np.asarray(t, float) @ Minv + 1e-9, 1.0)
        if not any(np.allclose(f, g) for g, _ in reps):
            reps.append((f, np.asarray(t)))
    assert len(reps) == round(abs(np.linalg.det(M)))
    pos, index = [], {}
    for k, (_, t) in enumerate(reps):
        for i, f in enumerate(frame.nodes):
            g = (f + t) @ Minv
            index[(k, i)] = (len(pos), np.floor(g + 1e-9).astype(np.int64))
            pos.append(g - np.floor(g + 1e-9))
    struts, shifts = [], []
    for k, (_, t) in enumerate(reps):
        for (i, j), s in zip(frame.struts, frame.shifts):
            a, na = index[(k, i)]
            end = (frame.nodes[j] + t + s) @ Minv
            cell = np.floor(end + 1e-9)
            frac = end - cell
            b = next(p for p in range(len(pos)) if np.allclose(pos[p], frac, atol=1e-7))
            struts.append((a, b))
            shifts.append(cell.astype(np.int64) - na)
    radius = frame.radius if np.ndim(frame.radius) == 0 else np.tile(frame.radius, len(reps))
    return PeriodicFrame(lv, np.array(pos), struts, shifts, radius)


def mirrored_cell(rng, n_points: int = 4, cutoff: float = 0.45, stretch=(1.0, 1.0, 1.0),
                  radius: float = 0.02) -> PeriodicFrame:
    """A design-space-like cell: random octant points mirrored about x_k = 0 and x_k = 1/2.

    Struts join all node images closer than ``cutoff`` (fractional metric of the unit cube,
    before ``stretch``), so the frame has the three mirror planes of the cell. Retries until
    the network is connected and spans 3D.
    """
    for _ in range(100):
        pts = rng.uniform(0.05, 0.45, size=(n_points, 3))
        imgs = np.array([np.where(np.array(m, bool), -p, p) for p in pts
                         for m in itertools.product((0, 1), repeat=3)])
        nodes = np.mod(imgs, 1.0)
        struts, shifts = [], []
        for i, j in itertools.combinations_with_replacement(range(len(nodes)), 2):
            for s in SHIFTS:
                if i == j and tuple(s) <= (0, 0, 0):
                    continue
                if np.linalg.norm(nodes[j] + s - nodes[i]) < cutoff:
                    struts.append((i, j))
                    shifts.append(s)
        if not struts:
            continue
        frame = PeriodicFrame(np.diag(stretch), nodes, struts, shifts, radius)
        if frame.periodic_connectivity()[:2] == (1, 3):
            return frame
    raise RuntimeError("could not build a connected mirrored cell")


def load_reference():
    """(frames, compliance (M, 6, 6), reference_model (M,), names) of the external catalogue."""
    return load_reference_catalogue(REFERENCE_JSON)


@pytest.fixture(scope="session")
def lat():
    return SimpleNamespace(neighbour_frame=neighbour_frame, simple_cubic=simple_cubic, octet=octet,
                           octet_primitive=octet_primitive, bcc=bcc, change_cell=change_cell,
                           mirrored_cell=mirrored_cell)


@pytest.fixture(scope="session")
def reference():
    return load_reference()
