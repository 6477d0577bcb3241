"""Elementary lattices, the stochastic generator, and the chunked data-set builder."""

from trussvae.generation.build import build_dataset
from trussvae.generation.elementary import ELEMENTARY_NAMES, elementary
from trussvae.generation.generator import (
    GENERATOR_VERSION,
    GeneratorConfig,
    generate_chunk,
    generate_structures,
)
from trussvae.generation.perturbation import PerturbationParams, perturb
from trussvae.generation.superposition import split_intersections, superpose

__all__ = ["build_dataset", "elementary", "ELEMENTARY_NAMES", "generate_structures", "generate_chunk",
           "GeneratorConfig",
           "PerturbationParams", "GENERATOR_VERSION", "perturb", "superpose", "split_intersections"]
