"""Reader of the external reference catalogue (tests/data/reference, igrega348/lattices, MIT).

Format: ``tests/data/reference/README.md``. Some values are stored as strings holding JSON or
Python literals; :func:`load_reference_catalogue` parses them.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np

__all__ = ["load_reference_catalogue"]


def _literal(value):
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value


def load_reference_catalogue(path: str | Path):
    """``(frames, compliance (M, 6, 6), reference_model (M,), names (M,))``: one entry per lattice
    and relative density, each frame with the catalogue's strut radius."""
    from trussvae.fem import PeriodicFrame

    data = json.loads(Path(path).read_text())
    frames, refs, models, names = [], [], [], []
    for lat in data["lattices"]:
        edges = np.asarray(_literal(lat["edges"]), dtype=np.int64)
        compl = {str(k): v for k, v in _literal(lat["compliance_voigt"]).items()}
        cell, nodes = _literal(lat["cell"]), _literal(lat["nodes"])
        for rho, r in _literal(lat["strut_radius"]).items():
            frames.append(PeriodicFrame(cell, nodes, edges[:, :2], edges[:, 2:], float(_literal(r))))
            refs.append(np.asarray(_literal(compl[str(rho)]), dtype=float))
            models.append(str(lat["reference_model"]))
            names.append(f"{lat['name']}@{rho}")
    return frames, np.array(refs), np.array(models), np.array(names)
