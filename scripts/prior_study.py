"""Refit a trained run's learned latent prior under several settings and measure sample validity of each.

    python scripts/prior_study.py /work/runs/<run> [--n 10000] [--seed 1] [--components 32 64 128]
                                  [--fit-on sample mean] [--iterations 50] [--fit-samples 100000]

Loads the run's best checkpoint and its training split (the run's resolved config, .hydra/config.yaml),
encodes at most ``--fit-samples`` training structures once, and for every (components, fit-on) pair fits a
fresh :class:`~trussvae.models.latent_prior.GaussianMixturePrior` by EM: to posterior samples
mu + sigma * eps (``sample``, what training does: the aggregate posterior) or to the posterior means
(``mean``, ex-post density estimation of the codes, Ghosh et al. 2020). Each fitted prior is measured
with ``n`` decoded samples (seed ``--seed``; 1 is independent of the test's seed 0): raw / repaired
validity and the training log-likelihood. Writes <run>/prior_study_<n>.json; the checkpoint is not changed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from trussvae.models import TrussVAE
from trussvae.models.checkpoint import run_checkpoint
from trussvae.models.latent_prior import GaussianMixturePrior
from trussvae.models.validity import sample_validity
from trussvae.training import run_datamodule


def encode_training_set(model: TrussVAE, run: Path, max_samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(posterior means, posterior samples) of at most ``max_samples`` training structures of the run's data
    split: the latents training fits its prior to (:meth:`~trussvae.models.TrussVAENet.posterior_latents`)."""
    dm = run_datamodule(run, model)
    dm.setup("fit")
    train = dm.datasets["train"].tensors
    return model.net.posterior_latents(train["adj"], train["offsets"], max_samples, seed, phys=train.get("phys"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--n", type=int, default=10_000, help="decoded samples per prior")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--components", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--fit-on", nargs="+", default=["sample", "mean"], choices=["sample", "mean"])
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--fit-samples", type=int, default=100_000)
    a = p.parse_args()
    torch.set_num_threads(1)
    model = TrussVAE.load_from_checkpoint(run_checkpoint(str(a.run)), map_location="cpu").eval()
    t0 = time.time()
    mu, z_sample = encode_training_set(model, a.run, a.fit_samples, seed=int(model.hparams.validity_seed))
    print(f"encoded {len(mu)} training structures in {time.time() - t0:.0f} s", flush=True)
    out = {"run": str(a.run), "n": a.n, "seed": a.seed, "fit_samples": len(mu), "iterations_max": a.iterations,
           "normal": sample_validity(model.net, a.n, a.seed, prior="normal"), "learned": []}
    print("N(0, I)", {k: round(v, 4) for k, v in out["normal"].items()}, flush=True)
    for fit_on in a.fit_on:
        z = z_sample if fit_on == "sample" else mu
        for k in a.components:
            t = time.time()
            prior = GaussianMixturePrior(model.net.latent_dim, k)
            fit = prior.fit(z, n_iter=a.iterations, seed=int(model.hparams.validity_seed))
            fit_s = time.time() - t
            model.net.prior = prior
            rep = sample_validity(model.net, a.n, a.seed, prior="learned")
            row = {"components": k, "fit_on": fit_on, **fit, "fit_seconds": fit_s,
                   "log_likelihood_of_samples": float(prior.log_prob(z_sample).mean()), **rep}
            out["learned"].append(row)
            print({kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in row.items()}, flush=True)
            Path(a.run, f"prior_study_{a.n}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
