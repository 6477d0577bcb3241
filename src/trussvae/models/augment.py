"""The 48 exact symmetries of the design space as torch gathers: augmentation and test-time averaging.

:mod:`trussvae.design_space.symmetry` holds the index tables (numpy); :class:`SymmetryTables`
keeps them as non-persistent buffers (they follow the module's device and are not part of any
checkpoint) and applies an operation per sample of a batch::

    adj'    = adj[b, ADJ_SOURCE[op[b]]]
    offset' = OFFSET_SIGN[op[b]] * offset[b, OFFSET_SOURCE[op[b]]]
    label'  = label[b, ORTHOTROPIC_SOURCE[op[b]]]        (linear target, physical components)

Which operations are allowed (:func:`allowed_operations`): ``"axes"`` = the 6 axis permutations,
``"mirrors"`` = the 8 per-axis mirrors of the octant, ``"all"`` = all 48 (permutations x mirrors).
The linear labels (9 orthotropic components) transform exactly (mirrors leave them unchanged,
permutations permute them). The nonlinear labels are compression curves along e3: only the 16
operations that keep axis 2 in place leave them unchanged, so for ``target="nonlinear"`` the set
is intersected with those and the labels are not touched.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from trussvae.design_space import symmetry

__all__ = ["SymmetryTables", "allowed_operations", "AUGMENT_KINDS"]

#: values of ``model.augment``
AUGMENT_KINDS = ("none", "axes", "mirrors", "all")


def allowed_operations(kind: str, target: str = "linear") -> np.ndarray:
    """Indices into :data:`~trussvae.design_space.symmetry.OPERATIONS` of the operations of ``kind``
    (``"none"``: the identity only) that keep the ``target`` labels exact (see module doc)."""
    if kind not in AUGMENT_KINDS:
        raise ValueError(f"model.augment must be one of {list(AUGMENT_KINDS)}, got {kind!r}")
    if target not in ("linear", "nonlinear"):
        raise ValueError(f"target must be 'linear' or 'nonlinear', got {target!r}")
    ops = [k for k, (perm, flips) in enumerate(symmetry.OPERATIONS)
           if kind == "all" or (kind == "axes" and not any(flips)) or (kind == "mirrors" and perm == (0, 1, 2))
           or k == symmetry.IDENTITY]
    if target == "nonlinear":
        ops = sorted(set(ops) & set(symmetry.operations_fixing_axis(2).tolist()))
    return np.asarray(ops, dtype=np.int64)


class SymmetryTables(nn.Module):
    """Gather tables of the 48 operations as buffers; every method takes one operation per row."""

    def __init__(self):
        super().__init__()
        inv = np.argsort(symmetry.ORTHOTROPIC_SOURCE, axis=1)  # label = label'[..., inv]: maps predictions back
        for name, table in [("adj_source", symmetry.ADJ_SOURCE), ("offset_source", symmetry.OFFSET_SOURCE),
                            ("offset_sign", symmetry.OFFSET_SIGN), ("ortho_source", symmetry.ORTHOTROPIC_SOURCE),
                            ("ortho_inverse", inv)]:
            self.register_buffer(name, torch.as_tensor(np.array(table)), persistent=False)

    def inputs(self, adj: torch.Tensor, offsets: torch.Tensor, ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 351), (B, 27), (B,) operation indices -> the transformed (B, 351), (B, 27)."""
        ops = ops.to(adj.device)
        adj_t = torch.gather(adj, 1, self.adj_source[ops])
        off_t = self.offset_sign[ops].to(offsets.dtype) * torch.gather(offsets, 1, self.offset_source[ops])
        return adj_t, off_t

    def orthotropic(self, components: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        """(B, 9) physical orthotropic components of the inputs -> those of the transformed inputs.

        Columns after the ninth (the e3 compression-curve features of ``model.curve_features``) are
        passed through: they are invariant under the operations that keep axis 2, the only ones used
        with the nonlinear target they belong to."""
        out = torch.gather(components[:, :9], 1, self.ortho_source[ops.to(components.device)])
        return out if components.shape[1] == 9 else torch.cat([out, components[:, 9:]], dim=1)

    def orthotropic_back(self, components: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`orthotropic`: components of a transformed truss -> those of the original."""
        return torch.gather(components, 1, self.ortho_inverse[ops.to(components.device)])
