"""Inverse design in the latent space (``python design.py target=auxetic``).

Not available in this version: latent-space inverse design arrives with issue #6. The script
composes its configuration (so typos are reported) and then refuses with a clear message instead
of pretending to design.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="design")
def main(cfg: DictConfig) -> None:
    sys.exit(f"design.py target={cfg.target}: inverse design is not available in this version of trussvae "
             "(it arrives with issue #6, 'Latent exploration and inverse design'). Available now: "
             "`python homogenize.py` (data sets, FE) and `python train.py` (the VAE).")


if __name__ == "__main__":
    main()
