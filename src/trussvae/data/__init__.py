"""Data sets for the VAE: splits, label normalisation, the Lightning data module, graph views."""

from trussvae.data.datamodule import LABEL_NAMES, BatchIndexSampler, TrussDataModule
from trussvae.data.graphs import dense_to_graph, positions_from_offsets, to_pyg_data
from trussvae.data.normalization import LabelNormalizer, fit_normalizer
from trussvae.data.splits import load_or_create_split, make_split

__all__ = ["TrussDataModule", "BatchIndexSampler", "LABEL_NAMES", "LabelNormalizer", "fit_normalizer",
           "load_or_create_split", "make_split", "dense_to_graph", "positions_from_offsets", "to_pyg_data"]
