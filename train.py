"""Train the truss VAE.

    python train.py                                   # data: data/lattices_seed0 (python homogenize.py)
    python train.py model.d_A=6 model.d_x=6 model.d_Ax=2
    python train.py logger=wandb                      # offline unless WANDB_MODE=online
    python train.py -m +sweep=latent_split            # grid over latent splits
    python train.py -m hparams_search=optuna          # Optuna search (in-memory storage)
    python train.py -m +launcher=slurm +sweep=latent_split
    python train.py hydra.run.dir=outputs/run1        # re-run the same command to resume from last.ckpt

Configuration: conf/train.yaml; documentation: docs/model.md. This file only composes the
configuration and calls :func:`trussvae.training.train`.
"""

from __future__ import annotations

import json
import os
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

os.environ.setdefault("WANDB_MODE", "offline")


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from trussvae.training import train

    try:
        metrics = train(OmegaConf.to_container(cfg, resolve=True))
    except FileNotFoundError as exc:  # missing data set / labels / checkpoint: say what to run
        sys.exit(f"train.py: {exc}")
    print(json.dumps(metrics, indent=1, sort_keys=True))
    value = metrics.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None
    return float(value) if isinstance(value, int | float) else None


if __name__ == "__main__":
    main()
