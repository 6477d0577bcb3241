"""Read a user's lattice file: a PeriodicFrame JSON or a TrussGraph (design-space) JSON."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_lattice", "LatticeFileError"]


class LatticeFileError(ValueError):
    """The lattice file is missing, not JSON, or neither a PeriodicFrame nor a TrussGraph."""


def load_lattice(path: str | Path):
    """Load ``path`` as a :class:`~trussvae.fem.PeriodicFrame` or a :class:`~trussvae.design_space.TrussGraph`.

    The type is taken from the ``"format"`` key (``trussvae.PeriodicFrame`` /
    ``trussvae.TrussGraph``), else inferred from the keys (``lattice_vectors`` -> frame,
    ``positions`` -> truss graph). Errors name the file and the problem.
    """
    from trussvae.design_space import TrussGraph
    from trussvae.fem import PeriodicFrame

    path = Path(path)
    if not path.is_file():
        raise LatticeFileError(f"{path}: no such lattice file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LatticeFileError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LatticeFileError(f"{path}: expected a JSON object, got {type(data).__name__}")
    fmt = data.get("format")
    try:
        if fmt == "trussvae.PeriodicFrame" or (fmt is None and "lattice_vectors" in data):
            return PeriodicFrame.from_dict(data)
        if fmt == "trussvae.TrussGraph" or (fmt is None and "positions" in data):
            return TrussGraph.from_dict(data)
    except ValueError as exc:
        raise LatticeFileError(f"{path}: {exc}") from exc
    raise LatticeFileError(f"{path}: unknown lattice format {fmt!r}; expected a PeriodicFrame JSON "
                           "(lattice_vectors, nodes, struts, shifts, radius) or a TrussGraph JSON (struts, positions)")
