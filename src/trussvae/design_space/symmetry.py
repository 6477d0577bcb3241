"""The 48 exact symmetries of the design space: axis permutations x per-axis mirrors of the octant.

An operation ``(perm, flips)`` maps an octant position ``p`` (natural coordinates, ``[0, 1]^3``)
to ``p'[a] = p[perm[a]]``, then ``p'[a] -> 1 - p'[a]`` where ``flips[a]``. The octant template is
invariant under all 48, so every operation maps a design-space truss to a design-space truss
(nodes relabelled, offsets permuted and negated on mirrored axes).

Effect on the effective stiffness (exact; the FE agrees to rounding, see the tests):

- a mirror ``x -> 1 - x`` of the octant turns the mirrored unit cell into the same periodic
  lattice translated by half a period: the stiffness is unchanged;
- an axis permutation permutes the stiffness: ``C'_{ab} = C_{perm[a] perm[b]}`` (tensor axes).

Everything here is an index table over the VAE inputs (``TrussGraph.to_vae_input``: the 351
upper-triangular adjacency entries and the 27 compact offsets) and over the 9 orthotropic
components (:data:`trussvae.fem.elasticity.ORTHOTROPIC_NAMES`), so that a batch can be
transformed by gathers::

    adj'    = adj[..., ADJ_SOURCE[k]]
    offset' = OFFSET_SIGN[k] * offset[..., OFFSET_SOURCE[k]]
    label'  = label[..., ORTHOTROPIC_SOURCE[k]]
"""

from __future__ import annotations

import itertools

import numpy as np

from trussvae.design_space import octant

__all__ = ["OPERATIONS", "N_OPERATIONS", "IDENTITY", "ADJ_SOURCE", "OFFSET_SOURCE", "OFFSET_SIGN",
           "ORTHOTROPIC_SOURCE", "operation_index", "node_map", "transform_inputs", "transform_orthotropic",
           "operations_fixing_axis"]

#: the 48 operations as (perm, flips) tuples; index 0 is the identity
OPERATIONS: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = tuple(
    (perm, flips) for perm in itertools.permutations(range(3)) for flips in itertools.product((0, 1), repeat=3))
N_OPERATIONS = len(OPERATIONS)
IDENTITY = 0

# orthotropic components as tensor index pairs (Voigt normal 11,12,13,22,23,33; shear 23,13,12)
_ORTHO_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), ("s", 0), ("s", 1), ("s", 2))
_SHEAR_AXES = {0: (1, 2), 1: (0, 2), 2: (0, 1)}  # shear component k acts in the plane of these axes


def operation_index(perm, flips=(0, 0, 0)) -> int:
    """Index into :data:`OPERATIONS` of ``(perm, flips)``."""
    key = (tuple(int(a) for a in perm), tuple(int(bool(f)) for f in flips))
    try:
        return OPERATIONS.index(key)
    except ValueError:
        raise ValueError(f"({perm}, {flips}) is not a symmetry operation: perm must permute (0, 1, 2), "
                         "flips must be three 0/1") from None


def _apply(positions: np.ndarray, perm, flips) -> np.ndarray:
    p = np.asarray(positions, dtype=np.float64)[..., list(perm)]
    return np.where(np.asarray(flips, dtype=bool), 1.0 - p, p)


def node_map(perm, flips=(0, 0, 0)) -> np.ndarray:
    """(27,) ``m`` with: template node ``i`` is moved onto template node ``m[i]``."""
    tpl = octant.TEMPLATE_POSITIONS
    moved = _apply(tpl, perm, flips)
    m = np.array([int(np.flatnonzero(np.all(np.isclose(tpl, moved[i]), axis=1))[0]) for i in range(octant.N_NODES)])
    if sorted(m.tolist()) != list(range(octant.N_NODES)):  # cannot happen for a symmetry of the template
        raise AssertionError(f"({perm}, {flips}) does not map the template onto itself")
    return m


def _tables():
    n_op = N_OPERATIONS
    adj_src = np.zeros((n_op, octant.N_EDGES_CANDIDATE), dtype=np.int64)
    off_src = np.zeros((n_op, octant.N_DOF), dtype=np.int64)
    off_sign = np.ones((n_op, octant.N_DOF), dtype=np.float32)
    ortho_src = np.zeros((n_op, 9), dtype=np.int64)
    dof_of = {(int(n), int(a)): k for k, (n, a) in enumerate(octant.DOF_INDEX)}
    for k, (perm, flips) in enumerate(OPERATIONS):
        m = node_map(perm, flips)
        # new pair (m[i], m[j]) holds old pair (i, j)
        new_index = octant.PAIR_INDEX[m[octant.TRIU_I], m[octant.TRIU_J]]
        adj_src[k, new_index] = np.arange(octant.N_EDGES_CANDIDATE)
        # new node m[i], axis a holds old node i, axis perm[a] (negated if flipped)
        for (i, ax_old), src in dof_of.items():
            a_new = list(perm).index(ax_old)
            dst = dof_of[(int(m[i]), a_new)]
            off_src[k, dst] = src
            off_sign[k, dst] = -1.0 if flips[a_new] else 1.0
        for c, pair in enumerate(_ORTHO_PAIRS):
            if pair[0] == "s":  # shear in the plane of new axes (a, b) = old axes (perm[a], perm[b])
                old_plane = sorted(perm[a] for a in _SHEAR_AXES[pair[1]])
                old = next(s for s, ax in _SHEAR_AXES.items() if sorted(ax) == old_plane)
                ortho_src[k, c] = 6 + old
            else:
                a, b = sorted((perm[pair[0]], perm[pair[1]]))
                ortho_src[k, c] = _ORTHO_PAIRS.index((a, b))
    for t in (adj_src, off_src, off_sign, ortho_src):
        t.setflags(write=False)
    return adj_src, off_src, off_sign, ortho_src


#: (48, 351) gather indices of the adjacency vector
#: (48, 27) gather indices and signs of the compact offsets
#: (48, 9) gather indices of the orthotropic components
ADJ_SOURCE, OFFSET_SOURCE, OFFSET_SIGN, ORTHOTROPIC_SOURCE = _tables()


def operations_fixing_axis(axis: int) -> np.ndarray:
    """Indices of the operations that keep ``axis`` in place (mirrors allowed): the 16 symmetries
    under which a response measured along that axis (e.g. the compression curve along e3) is unchanged."""
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
    return np.array([k for k, (perm, _) in enumerate(OPERATIONS) if perm[axis] == axis])


def transform_inputs(adjacency, offsets, op: int):
    """VAE inputs ``(…, 351)``, ``(…, 27)`` of the truss transformed by operation ``op`` (numpy)."""
    adjacency, offsets = np.asarray(adjacency), np.asarray(offsets)
    return adjacency[..., ADJ_SOURCE[op]], OFFSET_SIGN[op].astype(offsets.dtype) * offsets[..., OFFSET_SOURCE[op]]


def transform_orthotropic(components, op: int) -> np.ndarray:
    """The 9 orthotropic stiffness components ``(…, 9)`` of the transformed truss."""
    return np.asarray(components)[..., ORTHOTROPIC_SOURCE[op]]
