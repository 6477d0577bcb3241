"""The chunked lattice store: structures and FE labels of a data set on disk.

Layout of a store directory::

    meta.json                         format, design-space version, generator provenance,
                                      requested size, chunk size, FE settings of each label set
    structures/chunk-000000.npz       adjacency (n,351) bool, offsets (n,27) float64,
                                      hashes (n,) str, origin (n,) int8; optionally
                                      topology (n,) int64, strict_violations (n,) uint8
                                      (paper protocol, trussvae.generation.paper_protocol)
    structures/chunk-000000.json      per-chunk statistics (rejections by reason, timing);
                                      written last: its presence marks the chunk complete
    index.npz                         chunk, row of the first ``n`` globally unique structures
    labels/<name>/chunk-000000.npz    label arrays of that chunk's rows (e.g. FE stiffness)
    labels/<name>/chunk-000000.json   per-chunk label statistics (failures with reasons)

Why this format: every file is written to a temporary name and atomically renamed, so a
killed process never leaves a half-written chunk and a resumed build only redoes missing
chunks; any number of worker processes (or cluster nodes on a shared file system) write
disjoint files without locks; readers load chunks lazily. Uncompressed ``.npz`` reads at disk
speed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["LatticeStore", "StoreError", "atomic_write_json", "atomic_save_npz"]

FORMAT = "trussvae.LatticeStore"
FORMAT_VERSION = 1
#: per-row structure arrays some generators add (paper protocol: topology id, strict-rule bitmask)
OPTIONAL_STRUCTURE_KEYS = ("topology", "strict_violations")
_CHUNK_RE = re.compile(r"chunk-(\d{6})\.json$")


class StoreError(RuntimeError):
    """A store is missing, malformed or inconsistent with the requested operation."""


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data sets are shared (e.g. cluster workers)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: dict) -> None:
    _atomic(Path(path), lambda fh: fh.write(json.dumps(data, indent=1, sort_keys=True).encode()))


def atomic_save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    _atomic(Path(path), lambda fh: np.savez(fh, **arrays))


def _chunk_name(chunk_id: int) -> str:
    return f"chunk-{int(chunk_id):06d}"


class LatticeStore:
    """A data set on disk (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / "meta.json"
        if not meta_path.is_file():
            raise StoreError(f"{self.root} is not a lattice store (no meta.json); build one with "
                             "`python homogenize.py n=...`")
        try:
            self.meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{meta_path}: malformed JSON ({exc})") from exc
        if self.meta.get("format") != FORMAT:
            raise StoreError(f"{meta_path}: not a {FORMAT} (format={self.meta.get('format')!r})")

    # ------------------------------------------------------------------ creation
    @classmethod
    def create_or_open(cls, root: str | Path, meta: dict) -> LatticeStore:
        """Create a store with ``meta``, or open an existing one whose provenance matches ``meta``.

        Raises StoreError if the directory holds a store made with different settings (so a
        resumed build never mixes two generators in one data set).
        """
        root = Path(root)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
        if (root / "meta.json").is_file():
            store = cls(root)
            keys = ("design_space", "generator")
            diff = [k for k in keys if store.meta.get(k) != meta.get(k)]
            if diff:
                raise StoreError(f"{root} already holds a data set made with different {diff}: "
                                 f"stored {[store.meta.get(k) for k in diff]}, "
                                 f"requested {[meta.get(k) for k in diff]}. "
                                 "Use another output directory or the same settings.")
            return store
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(root / "meta.json", meta)
        return cls(root)

    def update_meta(self, **entries) -> None:
        self.meta.update(entries)
        atomic_write_json(self.root / "meta.json", self.meta)

    # ------------------------------------------------------------------ structures
    def structure_chunks(self) -> list[int]:
        """Ids of complete structure chunks, sorted."""
        d = self.root / "structures"
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _CHUNK_RE.match(p.name)))

    def write_structure_chunk(self, chunk_id: int, chunk) -> None:
        """Write a :class:`~trussvae.generation.generator.Chunk` (arrays first, stats last)."""
        base = self.root / "structures" / _chunk_name(chunk_id)
        atomic_save_npz(base.with_suffix(".npz"), adjacency=chunk.adjacency, offsets=chunk.offsets,
                        hashes=chunk.hashes, origin=chunk.origin, **getattr(chunk, "extra", {}))
        atomic_write_json(base.with_suffix(".json"), chunk.stats)

    def read_structure_chunk(self, chunk_id: int) -> dict[str, np.ndarray]:
        path = self.root / "structures" / f"{_chunk_name(chunk_id)}.npz"
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: cannot read structure chunk ({exc})") from exc

    def chunk_stats(self, chunk_id: int, labels: str | None = None) -> dict:
        d = self.root / ("structures" if labels is None else f"labels/{labels}")
        return json.loads((d / f"{_chunk_name(chunk_id)}.json").read_text())

    # ------------------------------------------------------------------ index
    def write_index(self, chunk: np.ndarray, row: np.ndarray) -> None:
        atomic_save_npz(self.root / "index.npz", chunk=np.asarray(chunk, np.int64), row=np.asarray(row, np.int64))

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk, row) of every structure of the data set, in data-set order."""
        path = self.root / "index.npz"
        if not path.is_file():
            raise StoreError(f"{self.root}: the data set is incomplete (no index.npz); rerun the same "
                             "`python homogenize.py` command to resume it")
        with np.load(path) as z:
            return z["chunk"], z["row"]

    def __len__(self) -> int:
        return len(self.index()[0])

    def load_structures(self) -> dict[str, np.ndarray]:
        """All indexed structures: ``adjacency`` (N,351) bool, ``offsets`` (N,27), ``hashes`` (N,), and
        ``topology`` (N,) int64 / ``strict_violations`` (N,) where the generator recorded them."""
        chunks = self.structure_chunks()
        first = set(self.read_structure_chunk(chunks[0])) if chunks else set()
        keys = ("adjacency", "offsets", "hashes") + tuple(k for k in OPTIONAL_STRUCTURE_KEYS if k in first)
        return self._gather(lambda c: self.read_structure_chunk(c), keys)

    def graphs(self, indices=None) -> list:
        """TrussGraphs of the given data-set indices (all when None)."""
        from trussvae.design_space.truss_graph import arrays_to_graph  # imports fem: keep the store light

        s = self.load_structures()
        idx = range(len(s["hashes"])) if indices is None else indices
        return [arrays_to_graph(s["adjacency"][i], s["offsets"][i]) for i in idx]

    # ------------------------------------------------------------------ labels
    def label_chunks(self, name: str) -> list[int]:
        d = self.root / "labels" / name
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _CHUNK_RE.match(p.name)))

    def write_label_chunk(self, name: str, chunk_id: int, stats: dict, **arrays: np.ndarray) -> None:
        base = self.root / "labels" / name / _chunk_name(chunk_id)
        atomic_save_npz(base.with_suffix(".npz"), **arrays)
        atomic_write_json(base.with_suffix(".json"), stats)

    def read_label_chunk(self, name: str, chunk_id: int) -> dict[str, np.ndarray]:
        path = self.root / "labels" / name / f"{_chunk_name(chunk_id)}.npz"
        with np.load(path) as z:
            return {k: z[k] for k in z.files}

    def load_labels(self, name: str, allow_partial: bool = False) -> dict[str, np.ndarray]:
        """Label arrays of every indexed structure.

        Raises if a chunk is not labelled yet, unless ``allow_partial``: then the rows of
        unlabelled chunks get NaN (float arrays) / False (``ok``) (e.g. nonlinear labels of a subset).
        """
        done = set(self.label_chunks(name))
        missing = sorted(set(np.unique(self.index()[0]).tolist()) - done)
        if missing and (not allow_partial or not done):
            raise StoreError(f"{self.root}: labels {name!r} missing for {len(missing)} chunk(s) "
                             f"(first: {missing[0]}); run `python homogenize.py` on this store to finish them")
        template = self.read_label_chunk(name, min(done)) if missing else None

        def read(c: int) -> dict[str, np.ndarray]:
            if c in done:
                return self.read_label_chunk(name, c)
            n = len(self.read_structure_chunk(c)["hashes"])
            return {k: (np.zeros((n,) + v.shape[1:], bool) if v.dtype == bool
                        else np.full((n,) + v.shape[1:], np.nan)) for k, v in template.items()}

        return self._gather(read, None)

    def _gather(self, read, keys) -> dict[str, np.ndarray]:
        chunk, row = self.index()
        out: dict[str, list] = {}
        order = []
        for c in np.unique(chunk):
            sel = np.flatnonzero(chunk == c)
            data = read(int(c))
            for k in keys or data.keys():
                out.setdefault(k, []).append(data[k][row[sel]])
            order.append(sel)
        perm = np.argsort(np.concatenate(order)) if order else np.zeros(0, np.int64)
        return {k: np.concatenate(v)[perm] for k, v in out.items()}

    def iter_chunks(self) -> Iterator[int]:
        yield from self.structure_chunks()
