"""The data fingerprint (library function and script)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trussvae.data.fingerprint import fingerprint, format_fingerprint
from trussvae.fem.elasticity import poisson_ratios, voigt_bulk_modulus, voigt_shear_modulus, youngs_moduli
from trussvae.io.store import LatticeStore, StoreError

ROOT = Path(__file__).resolve().parents[2]


def test_fingerprint_of_a_tiny_store(labelled_store):
    fp = fingerprint(labelled_store)
    C = labelled_store.load_labels("linear")["stiffness"]
    s = labelled_store.load_structures()
    assert fp["n"] == len(C) == 300 and fp["n_failed"] == 0 and fp["generator"] == "default"
    assert fp["max_E22"] == pytest.approx(youngs_moduli(C)[:, 1].max())
    assert fp["min_nu21"] == pytest.approx(poisson_ratios(C)[:, 1, 0].min())
    assert fp["max_KV_over_GV"] == pytest.approx((voigt_bulk_modulus(C) / voigt_shear_modulus(C)).max())
    assert fp["E_min"] == pytest.approx(youngs_moduli(C).min())
    assert fp["E11"]["q50"] == pytest.approx(np.median(youngs_moduli(C)[:, 0]))
    assert fp["struts_per_octant"]["q100"] == s["adjacency"].sum(1).max()
    assert fp["n_topologies"] == len({r.tobytes() for r in s["adjacency"]})
    text = format_fingerprint(fp)
    assert "max E22" in text and "distinct topologies" in text


def test_fingerprint_needs_labels(tmp_path):
    from trussvae.generation import build_dataset

    store = build_dataset(tmp_path / "s", 20, seed=0, chunk_size=20, scheduler="sync", progress=False)
    with pytest.raises(StoreError, match="linear"):
        fingerprint(store)
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fingerprint.py"), str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "", "NUMBA_NUM_THREADS": "1"})
    assert r.returncode == 1 and "FE labels" in r.stderr


def test_fingerprint_script(labelled_store):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fingerprint.py"), str(labelled_store.root), "--json"],
                       capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "", "NUMBA_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert '"max_E22"' in r.stdout
    assert LatticeStore(labelled_store.root).meta["n"] == 300
