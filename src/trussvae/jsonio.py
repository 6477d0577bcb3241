"""JSON helpers shared by the value types (TrussGraph, PeriodicFrame); the bottom layer (no trussvae imports)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["dump_json", "load_json_object"]


def dump_json(data: dict, path: str | Path | None = None, indent: int | None = None) -> str:
    """``json.dumps(data)``, also written to ``path`` when given."""
    text = json.dumps(data, indent=indent)
    if path is not None:
        Path(path).write_text(text)
    return text


def load_json_object(text_or_path: str | Path, error: type[Exception], what: str) -> dict:
    """Parse JSON text (starting with ``{`` or ``[``) or the file at a path; a dict, else ``error``."""
    text = str(text_or_path)
    if not text.lstrip().startswith(("{", "[")):
        path = Path(text_or_path)
        if not path.is_file():
            raise error(f"{what}: no such file {path}")
        text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what}: malformed JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise error(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data
