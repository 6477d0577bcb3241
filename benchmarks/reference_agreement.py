"""Agreement of ``trussvae.fem.homogenize_many`` with the external Abaqus lattice catalogue.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reference_agreement.py

Data: tests/data/reference/lattice_catalogue_abaqus.json (120 lattices x 3 densities, see its
README.md and PROVENANCE.md). Relative error of the diagonal compliance entries
``|S_ours - S_ref| / |S_ref|``, per reference model and per entry, for both beam models (the
matching pairs are euler_bernoulli_frame <-> euler_bernoulli and abaqus_b31 <-> timoshenko).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from trussvae.fem import homogenize_many
from trussvae.io.reference import load_reference_catalogue

REFERENCE = Path(__file__).resolve().parents[1] / "tests/data/reference/lattice_catalogue_abaqus.json"
ENTRIES = ("S11", "S22", "S33", "S44", "S55", "S66")
MODELS = ("euler_bernoulli_frame", "abaqus_b31_4_elements_per_strut")
SHORT = {"euler_bernoulli_frame": "EB frame", "abaqus_b31_4_elements_per_strut": "Abaqus B31"}


def load(path: Path = REFERENCE):
    return load_reference_catalogue(path)


def row(label: str, e: np.ndarray) -> str:
    q = np.percentile(e, [50, 90, 99])
    return f"| {label:<28} | {e.size:5d} | {q[0]:9.2e} | {q[1]:9.2e} | {q[2]:9.2e} | {e.max():9.2e} |"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worst", type=int, default=5, help="list the worst tensors per matching pair")
    args = ap.parse_args(argv)
    frames, refs, models, names = load()
    ref_diag = np.diagonal(refs, axis1=1, axis2=2)
    print(f"{len(frames)} tensors: " + ", ".join(f"{m}={int((models == m).sum())}" for m in MODELS))
    header = ("| reference, entry             |     n |    median |       p90 |       p99 |       max |\n"
              "|------------------------------|-------|-----------|-----------|-----------|-----------|")
    for beam in ("euler_bernoulli", "timoshenko"):
        t = time.perf_counter()
        C = homogenize_many(frames, beam=beam)
        dt = time.perf_counter() - t
        err = np.abs(np.diagonal(np.linalg.inv(C), axis1=1, axis2=2) - ref_diag) / np.abs(ref_diag)
        print(f"\n### ours = {beam} ({len(frames)} structures in {dt:.2f} s)\n")
        print(header)
        for m in MODELS:
            sel = models == m
            print(row(f"{SHORT[m]}, all S_ii", err[sel]))
            for k, name in enumerate(ENTRIES):
                print(row(f"{SHORT[m]}, {name}", err[sel, k]))
        match = "euler_bernoulli_frame" if beam == "euler_bernoulli" else "abaqus_b31_4_elements_per_strut"
        sel = np.flatnonzero(models == match)
        worst = sel[np.argsort(err[sel].max(axis=1))[::-1][: args.worst]]
        print(f"\nworst {match} tensors (max over S_ii): "
              + ", ".join(f"{names[i]} {err[i].max():.2e}" for i in worst))


if __name__ == "__main__":
    main()
