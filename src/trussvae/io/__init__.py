"""On-disk formats: the chunked lattice store."""

from trussvae.io.store import LatticeStore, StoreError

__all__ = ["LatticeStore", "StoreError"]
