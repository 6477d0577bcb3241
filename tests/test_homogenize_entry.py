"""`python homogenize.py`: data sets, single lattices, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trussvae.fem import homogenize
from trussvae.generation import elementary
from trussvae.io import LatticeStore

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, cwd):
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, str(ROOT / "homogenize.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_builds_labelled_dataset(tmp_path):
    r = _run("n=40", "chunk_size=40", "scheduler=sync", f"out={tmp_path}/ds", "progress=false", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "40 unique valid lattices" in r.stdout
    store = LatticeStore(tmp_path / "ds")
    assert store.load_labels("linear")["ok"].all()


def test_single_lattice_file(tmp_path):
    frame = elementary("octet").to_frame(relative_density=0.1)
    path = tmp_path / "octet.json"
    frame.to_json(path)
    r = _run(f"lattice={path}", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "run" / "homogenized.json").read_text())
    np.testing.assert_allclose(res["stiffness_voigt"], homogenize(frame), rtol=1e-10)
    assert res["properties"]["E11"] == pytest.approx(res["properties"]["E33"], rel=1e-8)
    assert (tmp_path / "run" / "elastic_surface.png").stat().st_size > 1000
    assert "E11=" in r.stdout


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"lattice_vectors": [[1,0,0],[0,1,0]], "nodes": [[0,0,0]], "struts": [[0,0]]}', "lattice_vectors"),
    ('{"lattice_vectors": [[1,0,0],[0,1,0],[0,0,1]], "nodes": [[0,0,NaN]], "struts": [[0,0]], '
     '"shifts": [[1,0,0]]}', "non-finite"),
    ('{"lattice_vectors": [[1,0,0],[0,1,0],[0,0,1]], "nodes": [[0,0,0]], "struts": [[0,0]], '
     '"shifts": [[1,0,0]], "radius": 0.05}', "direction"),
    ('{"lattice_vectors": [[1,0,0],[0,1,0],[0,0,1]], "nodes": [[0,0,0]], "struts": [[0,0]], '
     '"shifts": [[1,0,0]], "radius": 0}', "radius"),
])
def test_bad_lattice_files_fail_clearly(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    r = _run(f"lattice={path}", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr + r.stdout


def test_config_typo_fails_clearly(tmp_path):
    r = _run("nn=5", cwd=tmp_path)
    assert r.returncode != 0
    assert "nn" in r.stderr


def test_single_lattice_abaqus_export(tmp_path):
    from trussvae.fem.abaqus import frame_from_abaqus

    frame = elementary("bcc").to_frame(relative_density=0.1)
    path = tmp_path / "bcc.json"
    frame.to_json(path)
    r = _run(f"lattice={path}", "export=abaqus", "abaqus_elements=2", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "lattice.inp" in r.stdout
    rebuilt = frame_from_abaqus(tmp_path / "run" / "lattice.inp")
    assert rebuilt.n_struts == 2 * frame.n_struts
    np.testing.assert_allclose(homogenize(rebuilt), homogenize(frame), rtol=0, atol=1e-10 * homogenize(frame).max())
    bad = _run("export=ansys", f"lattice={path}", f"hydra.run.dir={tmp_path}/run2", cwd=tmp_path)
    assert bad.returncode != 0 and "export must be null or abaqus" in bad.stderr


def _dask_lines(text):
    """Records of Dask's own loggers in a console transcript (Hydra's or Dask's log format)."""
    return [ln for ln in text.splitlines() if "[distributed." in ln or " - distributed." in ln]


def test_quiet_console_on_a_dask_cluster_and_failures_still_shown(tmp_path):
    """A data-set build on a local Dask cluster prints progress and summaries, no Dask INFO records and
    no traceback (the shutdown race's CommClosedError); verbose=true shows Dask's records; a failing
    task is still reported with its error while quiet."""
    out = tmp_path / "ds"
    args = (f"out={out}", "chunk_size=100", "scheduler=local", "n_workers=2")
    r = _run("n=200", *args, f"hydra.run.dir={tmp_path}/run1", cwd=tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "200 unique valid lattices" in r.stdout
    assert _dask_lines(text) == [], text
    assert "Traceback" not in text and "CommClosedError" not in text, text
    assert "task(s) done on a local Dask cluster" in text  # one summary line per phase
    assert "FE labels (linear)" in text  # the progress bar

    # a label chunk that cannot be written (a directory in its place): the Dask task fails, and says so
    labels = out / "labels" / "linear"
    for f in labels.glob("chunk-000000.*"):
        f.unlink()
    (labels / "chunk-000000.npz" / "blocker").mkdir(parents=True)
    r = _run("n=200", *args, f"hydra.run.dir={tmp_path}/run2", cwd=tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert "1 of 1 task(s) failed" in text and "IsADirectoryError" in text and "chunk-000000.npz" in text, text
    assert not any("INFO" in ln for ln in _dask_lines(text)), text  # the worker's error record may show

    # verbose=true: Dask's own INFO records are shown (the chunk is labelled once it can be written)
    (labels / "chunk-000000.npz" / "blocker").rmdir()
    (labels / "chunk-000000.npz").rmdir()
    r = _run("n=200", *args, "verbose=true", f"hydra.run.dir={tmp_path}/run3", cwd=tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert any("INFO" in ln for ln in _dask_lines(text)), text
    assert LatticeStore(out).load_labels("linear")["ok"].all()
