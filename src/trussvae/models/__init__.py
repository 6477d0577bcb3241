"""The VAE: the plain network (:class:`TrussVAENet`, loadable without Lightning by
:func:`load_network`) and the LightningModule that trains it (:class:`TrussVAE`: losses,
schedules, metrics).

``TrussVAE`` (and with it PyTorch Lightning) is imported on first use of the name, so
``from trussvae.models import load_network, TrussVAENet`` needs torch only.
"""

from trussvae.models.checkpoint import CheckpointError, load_network
from trussvae.models.latent import LatentLayout
from trussvae.models.network import TrussVAENet

__all__ = ["TrussVAE", "TrussVAENet", "LatentLayout", "load_network", "CheckpointError"]


def __getattr__(name: str):
    if name == "TrussVAE":
        from trussvae.models.vae import TrussVAE

        return TrussVAE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
