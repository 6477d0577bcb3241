"""Printable geometry: a tessellated block of a periodic frame as a triangle mesh (STL).

By default (``solid=True``) the block is ONE watertight solid: the boolean union of strut
cylinders and node spheres, cut to the block (:mod:`trussvae.viz.solid`, manifold3d). With
``solid=False`` the older preview: the same pieces (struts clipped as segments) concatenated as
overlapping closed shells, not watertight as a whole.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

__all__ = ["frame_to_mesh", "export_stl"]


def _clip(p: np.ndarray, q: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Liang-Barsky clipping of segment p->q (fractional coordinates) to the box [lo, hi]."""
    t0, t1 = 0.0, 1.0
    d = q - p
    for k in range(3):
        if abs(d[k]) < 1e-15:
            if p[k] < lo[k] - 1e-12 or p[k] > hi[k] + 1e-12:
                return None
            continue
        a, b = (lo[k] - p[k]) / d[k], (hi[k] - p[k]) / d[k]
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        if t0 >= t1 - 1e-12:
            return None
    return p + t0 * d, p + t1 * d


def frame_to_mesh(frame, tessellation=(1, 1, 1), scale: float = 1.0, sections: int = 16, node_spheres: bool = True,
                  solid: bool = True):
    """A ``trimesh.Trimesh`` of ``tessellation`` cells of ``frame`` (lengths x ``scale``)."""
    import trimesh

    if solid:
        from trussvae.viz.solid import solid_mesh

        return solid_mesh(frame, tessellation, scale, sections, node_spheres)

    n = np.asarray(tessellation, dtype=np.int64)
    if n.shape != (3,) or np.any(n < 1):
        raise ValueError(f"tessellation must be three positive integers, got {tessellation}")
    A = frame.lattice_vectors
    radii = frame.radii()
    lo, hi = np.zeros(3), n.astype(float)
    parts = []
    node_r = np.zeros(frame.n_nodes)
    np.maximum.at(node_r, frame.struts[:, 0], radii)
    np.maximum.at(node_r, frame.struts[:, 1], radii)
    ranges = [range(-1, int(k) + 1) for k in n]
    for cell in itertools.product(*ranges):
        cell = np.array(cell, dtype=float)
        for e, (i, j) in enumerate(frame.struts):
            seg = _clip(frame.nodes[i] + cell, frame.nodes[j] + frame.shifts[e] + cell, lo, hi)
            if seg is None or np.linalg.norm((seg[1] - seg[0]) @ A) < 1e-9:
                continue
            parts.append(trimesh.creation.cylinder(radius=radii[e] * scale, sections=sections,
                                                   segment=np.stack([seg[0] @ A, seg[1] @ A]) * scale))
        if node_spheres:
            for k in range(frame.n_nodes):
                x = frame.nodes[k] + cell
                if np.all(x >= lo - 1e-12) and np.all(x <= hi + 1e-12) and node_r[k] > 0:
                    s = trimesh.creation.icosphere(subdivisions=2, radius=node_r[k] * scale)
                    s.apply_translation((x @ A) * scale)
                    parts.append(s)
    if not parts:
        raise ValueError("the frame produced no geometry inside the tessellated box")
    return trimesh.util.concatenate(parts)


def export_stl(frame, path: str | Path, tessellation=(1, 1, 1), scale: float = 1.0, sections: int = 16) -> Path:
    """Write the printable block (see :func:`frame_to_mesh`) as binary STL; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_to_mesh(frame, tessellation, scale, sections).export(path)
    return path
