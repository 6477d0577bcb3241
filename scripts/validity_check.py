"""Validity of a trained run's decodes at more prior samples than the test's 1,000 (the standard error of
a fraction near 0.85 is 0.011 at 1,000 samples, 0.0036 at 10,000).

    python scripts/validity_check.py /work/runs/<run> [n] [seed]

Loads the run's best checkpoint (metrics.json), draws n (10,000) latents from N(0, I) and from the learned
prior with the given seed (1: independent of the test's seed 0) and writes <run>/validity_<n>_seed<seed>.json.
"""

import json
import sys
import time
from pathlib import Path

import torch

from trussvae.models import TrussVAE
from trussvae.models.checkpoint import run_checkpoint


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    run = argv[0]
    n = int(argv[1]) if len(argv) > 1 else 10_000
    seed = int(argv[2]) if len(argv) > 2 else 1
    torch.set_num_threads(1)
    m = TrussVAE.load_from_checkpoint(run_checkpoint(run), map_location="cpu").eval()
    out = {}
    for prior in ("normal", "learned") if m.net.prior is not None else ("normal",):
        t = time.time()
        with torch.no_grad():
            out[prior] = {k: float(x) for k, x in m.validity(n, seed=seed, prior=prior).items()}
        print(run, prior, {k: round(x, 4) for k, x in out[prior].items()}, f"{time.time() - t:.0f} s", flush=True)
    name = f"validity_{n // 1000}k_seed{seed}.json" if n % 1000 == 0 else f"validity_{n}_seed{seed}.json"
    Path(run, name).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
