"""scripts/sweep_summary.py tabulates the metrics.json of a sweep."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sweep_summary.py"


def _load():
    spec = importlib.util.spec_from_file_location("sweep_summary", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rows_label_jobs_by_overrides(tmp_path):
    for job, enc, acc in [("0", "mlp", 0.98), ("1", "gnn", 0.97)]:
        d = tmp_path / job
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- model.encoder={enc}\n- hydra.run.dir=x\n- logger=csv\n")
        (d / "metrics.json").write_text(json.dumps({"test/adjacency_accuracy": acc, "validity/raw": 0.5}))
    rows = _load().rows(tmp_path, ["test/adjacency_accuracy", "validity/raw", "missing"])
    assert rows == [["0: model.encoder=mlp", "0.98", "0.5", ""], ["1: model.encoder=gnn", "0.97", "0.5", ""]]
