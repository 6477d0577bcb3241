"""The 27-node octant template of the design space (Zheng et al. 2023, Fig. 1a).

Natural coordinates: the octant is ``[0, 1]^3``; it is mirrored across the planes x=0, y=0,
z=0 into the unit cell ``[-1, 1]^3``, which tiles space with period 2. In the periodic frame
the cell has side 1 (physical = natural / 2), so lengths in the rest of the package are in
units of the unit-cell side, and the octant is the fractional box ``[0, 0.5]^3``.

Fixed node order (index: name, template position, free axes)::

    0-7    v0..v7   vertices (fixed), hexahedron numbering
           v0 (0,0,0)  v1 (1,0,0)  v2 (1,1,0)  v3 (0,1,0)
           v4 (0,0,1)  v5 (1,0,1)  v6 (1,1,1)  v7 (0,1,1)
    8-19   e0..e11  edge midpoints, 1 DOF along their edge
           e0 v0-v1 (x)  e1 v1-v2 (y)  e2 v3-v2 (x)  e3 v0-v3 (y)
           e4 v4-v5 (x)  e5 v5-v6 (y)  e6 v7-v6 (x)  e7 v4-v7 (y)
           e8 v0-v4 (z)  e9 v1-v5 (z)  e10 v2-v6 (z) e11 v3-v7 (z)
    20-25  f0..f5   face centres, 2 DOF in their face
           f0 x=0  f1 x=1  f2 y=0  f3 y=1  f4 z=0  f5 z=1
    26     t0       body centre, 3 DOF

A node's position on each free axis is ``0.5 + offset`` with ``offset`` in the open interval
``(-0.5, 0.5)``; fixed coordinates equal the template. The 27 free DOFs, in node order and
axis order x<y<z, form the compact *offset vector* (12 edge + 12 face + 3 body = 27 values).
"""

from __future__ import annotations

import numpy as np

N_NODES = 27
N_EDGES_CANDIDATE = N_NODES * (N_NODES - 1) // 2  # 351 upper-triangular adjacency entries
OFFSET_BOUND = 0.5
#: longest admissible strut (paper: r_max = sqrt(3)/2 unit-cell sides = the octant diagonal)
MAX_STRUT_LENGTH = float(np.sqrt(3.0) / 2.0)

VERTEX_POSITIONS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64
)
EDGE_VERTICES = np.array(
    [[0, 1], [1, 2], [3, 2], [0, 3], [4, 5], [5, 6], [7, 6], [4, 7], [0, 4], [1, 5], [2, 6], [3, 7]]
)
#: (axis, value) of the plane holding each face node
FACE_PLANES = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]])

NODE_NAMES: tuple[str, ...] = tuple(
    [f"v{i}" for i in range(8)] + [f"e{i}" for i in range(12)] + [f"f{i}" for i in range(6)] + ["t0"]
)
NODE_TYPES = np.array([0] * 8 + [1] * 12 + [2] * 6 + [3])  # 0 vertex, 1 edge, 2 face, 3 body
TYPE_NAMES = ("vertex", "edge", "face", "body")


def _template() -> tuple[np.ndarray, np.ndarray]:
    pos = np.zeros((N_NODES, 3))
    free = np.zeros((N_NODES, 3), dtype=bool)
    pos[:8] = VERTEX_POSITIONS
    for k, (a, b) in enumerate(EDGE_VERTICES):
        pos[8 + k] = 0.5 * (VERTEX_POSITIONS[a] + VERTEX_POSITIONS[b])
        free[8 + k] = VERTEX_POSITIONS[a] != VERTEX_POSITIONS[b]
    for k, (axis, value) in enumerate(FACE_PLANES):
        pos[20 + k] = 0.5
        pos[20 + k, axis] = value
        free[20 + k] = True
        free[20 + k, axis] = False
    pos[26] = 0.5
    free[26] = True
    return pos, free


TEMPLATE_POSITIONS, FREE_MASK = _template()
TEMPLATE_POSITIONS.setflags(write=False)
FREE_MASK.setflags(write=False)
N_DOF = int(FREE_MASK.sum())  # 27
#: (N_DOF, 2) (node, axis) of each entry of the compact offset vector
DOF_INDEX = np.argwhere(FREE_MASK)

#: (351, 2) node pairs (i < j) in the order of the upper-triangular adjacency vector
TRIU_I, TRIU_J = np.triu_indices(N_NODES, k=1)
TRIU_PAIRS = np.column_stack([TRIU_I, TRIU_J])
_PAIR_INDEX = -np.ones((N_NODES, N_NODES), dtype=np.int64)
_PAIR_INDEX[TRIU_I, TRIU_J] = np.arange(N_EDGES_CANDIDATE)
_PAIR_INDEX[TRIU_J, TRIU_I] = np.arange(N_EDGES_CANDIDATE)
PAIR_INDEX = _PAIR_INDEX


def node_index(name: str) -> int:
    """Index of a node by name (``"v0"``, ``"e11"``, ``"f3"``, ``"t0"``)."""
    try:
        return NODE_NAMES.index(name)
    except ValueError:
        raise KeyError(f"unknown template node {name!r}; names are v0..v7, e0..e11, f0..f5, t0") from None


def positions_from_offsets(offsets: np.ndarray) -> np.ndarray:
    """(…, 27) compact offsets -> (…, 27, 3) natural positions (template + offsets on free axes)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    pos = np.broadcast_to(TEMPLATE_POSITIONS, offsets.shape[:-1] + (N_NODES, 3)).copy()
    pos[..., DOF_INDEX[:, 0], DOF_INDEX[:, 1]] += offsets
    return pos


def offsets_from_positions(positions: np.ndarray) -> np.ndarray:
    """(…, 27, 3) natural positions -> (…, 27) compact offsets (fixed coordinates are dropped)."""
    positions = np.asarray(positions, dtype=np.float64)
    return positions[..., DOF_INDEX[:, 0], DOF_INDEX[:, 1]] - TEMPLATE_POSITIONS[DOF_INDEX[:, 0], DOF_INDEX[:, 1]]


# ----------------------------------------------------------------------------- mirroring
#: the 8 mirror images, bit d set = reflect axis d (x -> -x in natural coordinates)
MIRRORS = np.array([[(m >> d) & 1 for d in range(3)] for m in range(8)], dtype=np.int64)


def _full_cell_maps():
    """Unique full-cell nodes of every (octant node, mirror) and the periodic shift of each image.

    A mirror along an axis where the node's template coordinate is 0 maps the node to itself;
    where it is 1 it maps the node to its periodic image (same node, shift -1); on a free axis it
    creates a distinct node. Valid whenever offsets stay inside the open bounds.
    """
    key_to_id: dict[tuple[int, int], int] = {}
    image_node = np.zeros((N_NODES, 8), dtype=np.int64)
    image_shift = np.zeros((N_NODES, 8, 3), dtype=np.int64)
    owner, owner_mirror = [], []
    for k in range(N_NODES):
        for m in range(8):
            bits = MIRRORS[m]
            eff = tuple(int(bits[d] and FREE_MASK[k, d]) for d in range(3))
            key = (k, eff[0] | eff[1] << 1 | eff[2] << 2)
            if key not in key_to_id:
                key_to_id[key] = len(owner)
                owner.append(k)
                owner_mirror.append(eff)
            image_node[k, m] = key_to_id[key]
            image_shift[k, m] = [-1 if bits[d] and TEMPLATE_POSITIONS[k, d] != 0 else 0 for d in range(3)]
    return image_node, image_shift, np.array(owner), np.array(owner_mirror, dtype=np.int64)


IMAGE_NODE, IMAGE_SHIFT, FULL_NODE_OWNER, FULL_NODE_MIRROR = _full_cell_maps()
N_FULL_NODES = len(FULL_NODE_OWNER)  # 64


def _full_strut_maps():
    """For each of the 351 candidate octant struts, the ids of its distinct full-cell images."""
    canon: dict[tuple, int] = {}
    rows = []
    images = np.full((N_EDGES_CANDIDATE, 8), -1, dtype=np.int64)
    for e, (a, b) in enumerate(TRIU_PAIRS):
        seen = []
        for m in range(8):
            i, j = IMAGE_NODE[a, m], IMAGE_NODE[b, m]
            s = IMAGE_SHIFT[b, m] - IMAGE_SHIFT[a, m]
            if i > j or (i == j and tuple(s) < tuple(-s)):
                i, j, s = j, i, -s
            key = (int(i), int(j), *map(int, s))
            if key not in canon:
                canon[key] = len(rows)
                rows.append(key)
            if canon[key] not in seen:
                seen.append(canon[key])
        images[e, : len(seen)] = seen
    table = np.array(rows, dtype=np.int64)
    return images, table[:, :2], table[:, 2:]


#: (351, 8) full-strut ids of each candidate strut's images (-1 padded)
STRUT_IMAGES, FULL_STRUT_NODES, FULL_STRUT_SHIFTS = _full_strut_maps()


def full_node_fractional(positions: np.ndarray) -> np.ndarray:
    """(64, 3) fractional coordinates of every potential full-cell node for octant ``positions``."""
    p = np.asarray(positions, dtype=np.float64)[FULL_NODE_OWNER] / 2.0
    return np.where(FULL_NODE_MIRROR == 1, 1.0 - p, p)
