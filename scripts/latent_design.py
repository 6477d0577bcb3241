"""The latent-only design stage of a trained model on the three linear targets of issue 15.

    python scripts/latent_design.py /work/runs/<run> [--out docs/results/<run>/design_latent_only.json]
        [--targets stiff auxetic pentamode] [--extra search.n_starts=1000 ...] [--tag _1000]

Runs ``python design.py target=<t> train_run=<run> polish.top=0`` for each target (no FE polish, no
evolution: the best FE-verified decode of the latent search is the result, ``best_latent_value``), each
into ``<run>/design_<t><tag>``, then writes one JSON: per target the command, the best training value, the
best latent value, its improvement over the training data (positive = better), the number of
FE-verified decodes, the best decode's moduli and the median relative error of the predicted against the
FE value over every verified decode. The shipped floors of the targets apply (auxetic: E11, E22 >=
0.002; pentamode: K_V >= 0.005).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

TARGETS = ("stiff", "auxetic", "pentamode")
ROOT = Path(__file__).resolve().parents[1]


def summarise(results: dict, command: str) -> dict:
    """One target's entry from a design run's results.json."""
    cands = results.get("candidates", [])
    pairs = np.array([(c["predicted_value"], c["fe_value"]) for c in cands
                      if c.get("predicted_value") is not None and c.get("fe_value") is not None], dtype=float)
    rel = np.abs(pairs[:, 0] - pairs[:, 1]) / np.maximum(np.abs(pairs[:, 1]), 1e-12) if len(pairs) else np.array([])
    best = cands[0] if cands else {}
    return {"command": command, "best_training_value": results.get("best_training_value"),
            "best_latent_value": results.get("best_latent_value"), "best_fe_value": results.get("best_fe_value"),
            "improvement_over_training": results.get("improvement_over_training"), "n_candidates": len(cands),
            "best_predicted_value": best.get("predicted_value"), "best_moduli": best.get("moduli"),
            "search": results.get("config", {}).get("search"),
            "median_rel_error_predicted_vs_fe": float(np.median(rel)) if rel.size else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("train_run", type=Path, help="a training run folder (train.py's hydra.run.dir)")
    ap.add_argument("--out", type=Path, default=None, help="JSON to write (default <run>/design_latent_only.json)")
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    ap.add_argument("--extra", nargs="*", default=[], help="further design.py overrides")
    ap.add_argument("--tag", default="", help="suffix of the design folders (<run>/design_<target><tag>)")
    args = ap.parse_args(argv)
    run = args.train_run.resolve()
    if not (run / "checkpoints").is_dir():
        ap.error(f"{run} is not a training run folder (no checkpoints/ inside)")
    out = args.out or run / "design_latent_only.json"
    summary = json.loads(out.read_text()) if out.is_file() else {}
    for target in args.targets:
        overrides = [f"target={target}", f"train_run={run}", "polish.top=0", *args.extra]
        command = "python design.py " + " ".join(overrides)
        print(f"[latent_design] {command}", flush=True)
        proc = subprocess.run([sys.executable, str(ROOT / "design.py"), *overrides,
                               f"hydra.run.dir={run / f'design_{target}{args.tag}'}"], cwd=ROOT)
        if proc.returncode != 0:
            print(f"[latent_design] {target}: design.py exited with {proc.returncode}; the other targets are kept",
                  file=sys.stderr)
            continue
        results = json.loads((run / f"design_{target}{args.tag}" / "results.json").read_text())
        summary[target] = summarise(results, command)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=1))  # after every target: nothing computed is lost
        s = summary[target]
        gain = s["improvement_over_training"]
        print(f"[latent_design] {target}: best latent {s['best_latent_value']} vs training "
              f"{s['best_training_value']} ({'n/a' if gain is None else f'{100 * gain:+.1f}%'})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
