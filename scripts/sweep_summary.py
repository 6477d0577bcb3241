"""Tabulate the metrics.json of every run under a folder (a Hydra multirun sweep, or /work/runs).

    python scripts/sweep_summary.py multirun/train/<date>_<time> [--keys test/adjacency_accuracy ...]

Prints a Markdown table: one row per run (its Hydra overrides), one column per metric.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_KEYS = ("test/adjacency_accuracy", "test/exact_topology_fraction", "test/node_r2_x", "test/node_r2_y",
                "test/node_r2_z", "test/node_r2_dof", "test/property_r2_min", "validity/raw", "validity/repaired",
                "validity/novel_unique", "time/epochs", "time/train_samples_per_s")


_HIDDEN = ("hydra.", "data.data_dir", "logger=", "trainer.enable_progress")


def rows(root: Path, keys) -> list[list[str]]:
    out = []
    for path in sorted(root.rglob("metrics.json")):
        metrics = json.loads(path.read_text())
        overrides = path.parent / ".hydra" / "overrides.yaml"
        label = path.parent.name
        if overrides.is_file():
            lines = [ln.strip()[2:] for ln in overrides.read_text().splitlines() if ln.strip().startswith("- ")]
            kept = [ln for ln in lines if not ln.startswith(_HIDDEN)]
            label = f"{path.parent.name}: {' '.join(kept)}" if kept else label
        vals = []
        for k in keys:
            v = metrics.get(k)
            vals.append(f"{v:.4g}" if isinstance(v, (int, float)) else "")
        out.append([label, *vals])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--keys", nargs="+", default=list(DEFAULT_KEYS))
    args = ap.parse_args()
    table = rows(args.root, args.keys)
    if not table:
        raise SystemExit(f"no metrics.json under {args.root}")
    print("| run | " + " | ".join(args.keys) + " |")
    print("|---" * (len(args.keys) + 1) + "|")
    for r in table:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
