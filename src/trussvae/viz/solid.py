"""A printable block of a periodic lattice as ONE watertight solid (boolean union, manifold3d).

``lattice_solid(frame, tessellation)`` builds every strut that reaches the block of
``tessellation`` cells as a cylinder and every node as a sphere (radius: the largest of its
struts, for smooth joints), unions them with ``manifold3d`` (the boolean engine trimesh uses)
and intersects the union with the block (the parallelepiped spanned by ``n_k a_k``), so the part
has flat faces and no overlapping shells: one closed, oriented 2-manifold per connected piece.
``solid_mesh`` returns it as a ``trimesh.Trimesh``; ``solid_report`` states what a printer or a
solid FE mesher needs (watertight, number of bodies, solid volume fraction, triangles).

Faceting: a cylinder with ``sections`` sides inscribed in the circle of radius r has the area
``(sections / 2 pi) sin(2 pi / sections)`` pi r^2 (97.4 % for 16 sides). With
``area_preserving=True`` (default) the polygon (and the node spheres) are enlarged by
``sqrt(2 pi / (sections sin(2 pi / sections)))`` so each strut has the cross-section area of
the design (its relative density), not less.

Solid volume fraction vs. the design's relative density ``rho = sum pi r^2 L / V``: the block is
a whole number of cells and every strut reaching it is built, so clipping cuts the periodic solid
exactly at cell boundaries and does not change the fraction; what differs is the joints: struts
overlap near the nodes (counted several times by ``rho``: lowers the fraction), the node spheres
add the caps beyond the strut ends (raises it), and the polygon cross-section (handled above).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["lattice_solid", "solid_mesh", "solid_report", "SolidError"]


class SolidError(ValueError):
    """The lattice cannot be turned into the requested solid (e.g. it falls apart into several bodies)."""


def _frame_of(axis: np.ndarray) -> np.ndarray:
    """(3, 3) rotation whose third column is the unit vector ``axis``."""
    t = axis / np.linalg.norm(axis)
    helper = np.eye(3)[int(np.argmin(np.abs(t)))]
    e1 = np.cross(helper, t)
    e1 /= np.linalg.norm(e1)
    return np.column_stack([e1, np.cross(t, e1), t])


def _transform(R: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.column_stack([R, p])  # (3, 4) affine matrix for Manifold.transform


def lattice_solid(frame, tessellation=(1, 1, 1), scale: float = 1.0, sections: int = 16, node_spheres: bool = True,
                  area_preserving: bool = True):
    """The block of ``tessellation`` cells of ``frame`` as one ``manifold3d.Manifold`` (lengths x ``scale``).

    Every piece reaching the block is unioned at once and the union is cut to the block. (Building
    one cell and unioning its translates is ~6x faster but leaves pinched vertices where the
    cell walls meet the block's faces: two vertices at one position, which an STL reader merges
    into a non-manifold point; so it is not done.)
    """
    n = np.asarray(tessellation)
    if n.shape != (3,) or np.any(n != np.round(n)) or np.any(n < 1):
        raise ValueError(f"tessellation must be three positive integers, got {tessellation}")
    n = n.astype(np.int64)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive, got {scale}")
    if int(sections) != sections or sections < 3:
        raise ValueError(f"sections must be an integer >= 3, got {sections}")
    solid = _block_solid(frame, n, float(scale), int(sections), node_spheres, area_preserving)
    if solid.is_empty():
        raise SolidError("the frame produced no geometry inside the tessellated block")
    return solid


def _block_solid(frame, n, scale, sections, node_spheres, area_preserving):
    """Union of the cylinders and spheres that reach the block of n cells, intersected with it."""
    from manifold3d import Manifold, OpType

    A = frame.lattice_vectors * scale
    radii = frame.radii() * scale
    if area_preserving:
        radii = radii * np.sqrt(2 * np.pi / (sections * np.sin(2 * np.pi / sections)))
    node_r = np.zeros(frame.n_nodes)
    np.maximum.at(node_r, frame.struts[:, 0], radii)
    np.maximum.at(node_r, frame.struts[:, 1], radii)
    # a piece reaches the block if its fractional bounding box, grown by its radius, meets [0, n]
    grow = np.linalg.norm(np.linalg.inv(A), axis=0)  # |d frac_k / d x| <= norm of column k of A^-1
    a, b = frame.nodes[frame.struts[:, 0]], frame.nodes[frame.struts[:, 1]] + frame.shifts
    lo_e = np.minimum(a, b) - radii[:, None] * grow
    hi_e = np.maximum(a, b) + radii[:, None] * grow
    lo_n = frame.nodes - node_r[:, None] * grow
    hi_n = frame.nodes + node_r[:, None] * grow
    reach = int(np.ceil(max(hi_e.max(), hi_n.max(), 1 - lo_e.min(), 1 - lo_n.min())))
    templates: dict = {}
    parts = []
    for cell in itertools.product(*(range(-reach, int(k) + reach) for k in n)):
        c = np.asarray(cell, dtype=float)
        for e in np.flatnonzero(np.all((lo_e + c < n) & (hi_e + c > 0), axis=1)):
            pa, pb = (a[e] + c) @ A, (b[e] + c) @ A
            v = pb - pa
            key = ("c", float(radii[e]), float(np.linalg.norm(v)))
            if key not in templates:
                templates[key] = Manifold.cylinder(key[2], key[1], circular_segments=sections)
            parts.append(templates[key].transform(_transform(_frame_of(v), pa)))
        if node_spheres:
            for k in np.flatnonzero(np.all((lo_n + c < n) & (hi_n + c > 0), axis=1) & (node_r > 0)):
                key = ("s", float(node_r[k]))
                if key not in templates:
                    templates[key] = Manifold.sphere(key[1], circular_segments=sections)
                parts.append(templates[key].translate(tuple((frame.nodes[k] + c) @ A)))
    if not parts:
        raise SolidError("the frame produced no geometry inside the tessellated block")
    box = Manifold.cube((1.0, 1.0, 1.0)).transform(_transform((n[:, None] * A).T, np.zeros(3)))
    return _heal_pinches(Manifold.batch_boolean(parts, OpType.Add) ^ box, box, 0.1 * float(radii.min()))


def _heal_pinches(solid, box, ball: float, rounds: int = 3):
    """Fill pinches: places where two parts of the solid touch in a point or a line exactly.

    manifold3d keeps such a contact manifold by giving each part its own vertex at the shared
    position; an STL has no topology, so a reader merges them into a non-manifold vertex (not
    watertight). This happens when mirror-symmetric struts or joints are tangent at a symmetry
    plane. Each pinch gets a small ball (radius ``ball``, a tenth of the thinnest strut) that
    joins the touching parts; the volume changes by < 1e-5 of the part.
    """
    from manifold3d import Manifold, OpType

    for _ in range(rounds):
        v = np.asarray(solid.to_mesh().vert_properties)[:, :3]
        key = np.round(v / (1e-9 * max(1.0, float(np.abs(v).max()))))
        _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
        points = v[first[counts > 1]]
        if not len(points):
            return solid
        balls = [Manifold.sphere(ball, circular_segments=8).translate(tuple(p)) for p in points]
        solid = Manifold.batch_boolean([solid, *balls], OpType.Add) ^ box
    return solid


def solid_mesh(frame, tessellation=(1, 1, 1), scale: float = 1.0, sections: int = 16, node_spheres: bool = True,
               area_preserving: bool = True, max_bodies: int | None = None):
    """:func:`lattice_solid` as a ``trimesh.Trimesh`` (one watertight mesh, possibly several bodies).

    ``max_bodies``: raise :class:`SolidError` when the block falls apart into more bodies (e.g.
    ``1`` for a part that must print as one piece).
    """
    import trimesh

    solid = lattice_solid(frame, tessellation, scale, sections, node_spheres, area_preserving)
    m = solid.to_mesh()
    mesh = trimesh.Trimesh(vertices=np.asarray(m.vert_properties)[:, :3], faces=np.asarray(m.tri_verts),
                           process=False)
    if max_bodies is not None:
        bodies = len(solid.decompose())
        if bodies > max_bodies:
            raise SolidError(f"the block of {tuple(int(k) for k in tessellation)} cells is {bodies} separate bodies "
                             f"(at most {max_bodies} allowed): the lattice is not connected within the block")
    return mesh


def solid_report(mesh, frame, tessellation=(1, 1, 1), scale: float = 1.0) -> dict:
    """What a printer / solid mesher needs: watertight, bodies, volume fraction vs. relative density."""
    n = np.asarray(tessellation, dtype=float)
    block_volume = float(np.prod(n) * frame.cell_volume() * scale**3)
    volumes = sorted((float(b.volume) for b in mesh.split(only_watertight=False)), reverse=True)
    return {"watertight": bool(mesh.is_watertight), "winding_consistent": bool(mesh.is_winding_consistent),
            "bodies": len(volumes), "body_volumes": volumes, "triangles": int(len(mesh.faces)),
            "volume_fraction": float(mesh.volume) / block_volume,
            "relative_density": frame.relative_density()}
