"""scripts/sweep_summary.py tabulates the metrics.json of a sweep."""

import json


def test_rows_label_jobs_by_overrides(tmp_path, load_script):
    for job, enc, acc in [("0", "mlp", 0.98), ("1", "gnn", 0.97)]:
        d = tmp_path / job
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- model.encoder={enc}\n- hydra.run.dir=x\n- logger=csv\n")
        (d / "metrics.json").write_text(json.dumps({"test/adjacency_accuracy": acc, "validity/raw": 0.5}))
    rows = load_script("sweep_summary").rows(tmp_path, ["test/adjacency_accuracy", "validity/raw", "missing"])
    assert rows == [["0: model.encoder=mlp", "0.98", "0.5", ""], ["1: model.encoder=gnn", "0.97", "0.5", ""]]
