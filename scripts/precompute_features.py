"""Precompute the curve features of a data set's structures ahead of training (background, resumable).

    python scripts/precompute_features.py /work/data/lattices_seed0 [--kind buckling2] [--rows all|labelled]
        [--part I/N] [--log-every 2000]

``python train.py experiment=nonlinear`` computes the buckling features (``model.curve_features``) of the
rows it uses when it starts, ~10 ms (``buckling``) or 15-40 ms (``buckling2``) a structure (``redistribution``:
the ``buckling2`` cache and ~2 ms more, cached apart in ``features/redistribution.npz``; ``postbuckling``: those
and ~3 ms more, in ``features/postbuckling.npz``): up to 2 hours of
one core for 200,000 structures before the first epoch. This computes them beforehand into the same cache
(``<data>/features/<kind>.npz``, :func:`trussvae.data.physics.load_or_compute_buckling`) with the settings a
training run uses (the data set's nonlinear label settings, :func:`~trussvae.data.physics.buckling_fe_settings`),
so the training run finds them all cached. The cache is written every ``--log-every`` new rows: a killed run
keeps what it computed and the same command goes on. ``--part I/N`` takes every N-th row from the I-th (0-based),
so N processes fill the cache together (the writes merge under a file lock).

``--rows labelled`` (default): the structures whose nonlinear label converged (what training uses; the
labelling may still be running); ``all``: every structure of the store.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.data.physics import (  # noqa: E402
    CURVE_FEATURE_KINDS,
    buckling_fe_settings,
    buckling_feature_path,
    load_or_compute_buckling,
)
from trussvae.fem.settings import NONLINEAR  # noqa: E402
from trussvae.io.store import LatticeStore  # noqa: E402


def parse_part(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N; a ValueError naming the problem otherwise."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--part must be I/N (two integers, e.g. 0/2), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--part I/N needs 0 <= I < N, got {text!r}")
    return i, n


def labelled_rows(store: LatticeStore) -> np.ndarray:
    """Data-set rows whose nonlinear label converged (in the chunks labelled so far)."""
    return np.flatnonzero(store.load_labels(NONLINEAR, allow_partial=True)["ok"])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="data set (a LatticeStore folder)")
    ap.add_argument("--kind", default="buckling2", choices=[k for k in CURVE_FEATURE_KINDS if k != "none"])
    ap.add_argument("--rows", default="labelled", choices=["labelled", "all"])
    ap.add_argument("--part", default="0/1", help="I/N: every N-th row from the I-th (N processes together)")
    ap.add_argument("--log-every", type=int, default=2000, help="new rows between cache writes")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")  # the cache's progress lines
    try:
        part_i, part_n = parse_part(args.part)
    except ValueError as exc:
        ap.error(str(exc))
    store = LatticeStore(args.data)
    if args.rows == "labelled" and NONLINEAR not in store.meta.get("labels", {}):
        ap.error(f"{args.data} has no nonlinear labels yet: use --rows all, or label first "
                 f"(python homogenize.py out={args.data} fem=nonlinear label_rows=...)")
    s = store.load_structures()
    rows = labelled_rows(store) if args.rows == "labelled" else np.arange(len(s["hashes"]))
    rows = rows[part_i::part_n]
    fe = buckling_fe_settings(store.meta)
    t0 = time.perf_counter()
    feats = load_or_compute_buckling(args.data, s["adjacency"], s["offsets"], fe, rows, log_every=args.log_every,
                                     kind=args.kind)
    seconds = time.perf_counter() - t0
    missing = int(np.isnan(feats[rows, 0]).sum())
    report = {"kind": args.kind, "rows": int(len(rows)), "part": args.part, "seconds": round(seconds, 1),
              "no_feature": missing, "cache": str(buckling_feature_path(args.data, args.kind))}
    print(f"{args.kind}: {len(rows)} rows ({args.rows}, part {args.part}) cached in {report['cache']} after "
          f"{seconds:.0f} s; {missing} without a feature (not a stable frame)", flush=True)
    return report


if __name__ == "__main__":
    main()
