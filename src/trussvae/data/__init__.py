"""Data sets for the VAE: splits, label normalisation, the Lightning data module, graph views.

The data module (and with it PyTorch Lightning) is imported on first use of its names, so the
plain parts (:mod:`~trussvae.data.graphs`, :mod:`~trussvae.data.normalization`) load without
Lightning (e.g. :func:`trussvae.models.load_network`).
"""

from trussvae.data.graphs import dense_to_graph, positions_from_offsets, to_pyg_data
from trussvae.data.normalization import LabelNormalizer, fit_normalizer
from trussvae.data.splits import load_or_create_split, make_split

__all__ = ["TrussDataModule", "BatchIndexSampler", "LABEL_NAMES", "LabelNormalizer", "fit_normalizer",
           "load_or_create_split", "make_split", "dense_to_graph", "positions_from_offsets", "to_pyg_data"]

_DATAMODULE_NAMES = ("TrussDataModule", "BatchIndexSampler", "LABEL_NAMES")


def __getattr__(name: str):
    if name in _DATAMODULE_NAMES:
        from trussvae.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
