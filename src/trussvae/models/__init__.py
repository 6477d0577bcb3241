"""The VAE: encoders, decoders, property predictor, KL schedules, metrics, repair."""

from trussvae.models.latent import LatentLayout
from trussvae.models.repair import repair
from trussvae.models.vae import TrussVAE

__all__ = ["TrussVAE", "LatentLayout", "repair"]
