"""scripts/relabel_failures.py: the failed labels of an extended solver revision, recomputed in place."""

import numpy as np

from trussvae.fem.nonlinear import SOLVER_REVISION
from trussvae.fem.settings import NonlinearFESettings
from trussvae.generation import build_dataset
from trussvae.generation.label import label_dataset
from trussvae.io import LatticeStore


def _fail_row(store, chunk, row, solver):
    """Make ``row`` of a labelled chunk a recorded failure of solver revision ``solver``."""
    stats = store.chunk_stats(chunk, "nonlinear")
    labels = store.read_label_chunk("nonlinear", chunk)
    labels["stress"][row, 2:] = np.nan
    labels["ok"][row] = False
    labels["max_strain"][row] = 0.025
    stats = {**stats, "n_failed": 1, "failures": [{"row": row, "reason": "no convergence at strain 0.04"}],
             "solver": solver}
    store.write_label_chunk("nonlinear", chunk, stats, **labels)


def test_failed_rows_of_an_extended_revision_are_recomputed(tmp_path, load_script, capsys):
    mod = load_script("relabel_failures")
    store = build_dataset(tmp_path / "ds", 8, seed=4, chunk_size=4, scheduler="sync", progress=False)
    label_dataset(store, NonlinearFESettings(max_strain=0.05, time_limit=30.0), scheduler="sync", progress=False)
    before = [store.read_label_chunk("nonlinear", c) for c in (0, 1)]
    assert all(b["ok"].all() for b in before)
    _fail_row(store, 0, 1, "2: the previous revision")
    _fail_row(store, 1, 3, "1 (another algorithm)")
    mod.main([str(store.root), "--dry-run"])
    assert "1 chunk(s) with 1 failed rows" in capsys.readouterr().out
    assert not store.read_label_chunk("nonlinear", 0)["ok"][1]  # a dry run writes nothing
    mod.main([str(store.root)])
    out = capsys.readouterr().out
    assert "chunk 0: 1/1 now converge" in out and "left alone" in out
    after = store.read_label_chunk("nonlinear", 0)
    for k in ("stress", "ok", "max_strain"):
        np.testing.assert_array_equal(after[k], before[0][k])  # the same curve as a fresh labelling
    stats = store.chunk_stats(0, "nonlinear")
    assert stats["solver"] == SOLVER_REVISION and stats["n_failed"] == 0 and stats["failures"] == []
    assert stats["relabelled"]["rows"] == [1] and stats["relabelled"]["now_ok"] == 1
    assert stats["relabelled"]["from_solver"].startswith("2:")
    other = store.chunk_stats(1, "nonlinear")  # another revision: untouched
    assert other["solver"].startswith("1") and not store.read_label_chunk("nonlinear", 1)["ok"][3]
    assert LatticeStore(store.root).meta["labels"]["nonlinear"]["n_failed"] == 1  # the one left alone
