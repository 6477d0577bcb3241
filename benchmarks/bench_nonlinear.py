"""Benchmark: 13-point uniaxial-compression labels of generated lattices (relative density 0.15).

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 100 --jobs 1
    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 100 --jobs 2
    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 60 --bisection   # also locate instabilities
    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 100 --stats      # + time split per structure
    NUMBA_NUM_THREADS=1 python benchmarks/bench_nonlinear.py --n 200 --compare main  # same curves as `main`?

Times :func:`trussvae.fem.compression_labels` (the labelling path: no bisection of instabilities,
``n_jobs`` worker processes) after a JIT warm-up and prints converged curves per second (wall) and per
CPU-second (this process + finished workers): the CPU rate is the load-independent per-core rate (the
machine is shared, so the wall-clock rate depends on what else runs).

``--stats``: per-structure increments / Newton iterations, the iterations by regime of the increment
(:func:`regime_split`: before the first instability, unstable, post-buckled) and the time split (assembly,
Cholesky, eigen-decompositions, the rest = Python and kernel overhead), estimated as counts x unit cost
measured on each structure's own matrices.

``--compare REF``: the solver of the git revision ``REF`` (its ``fem/nonlinear*.py`` and
``fem/corotational.py``, imported from a temporary directory) against this one on the same cells,
interleaved structure by structure: CPU time per structure of both and the agreement of the curves
(:func:`compare_curves`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trussvae.fem.nonlinear import compression_labels, last_label_strain, uniaxial_compression  # noqa: E402
from trussvae.generation import generate_structures  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_REF_MODULES = ("corotational", "nonlinear_cell", "nonlinear")


def _cpu_seconds():
    """CPU time of this process + finished child processes (the pool workers exit before it is read)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def compare_curves(ref, new, tol=1e-3):
    """Agreement of two sets of curves (n, k) point by point, relative to each reference curve's max |stress|.

    Returns a dict: ``rel`` (n, k) relative differences (NaN where either curve is NaN), ``max`` and
    ``median`` of the finite ones, ``differ`` indices of the curves whose max relative difference
    exceeds ``tol``, ``nan_mismatch`` indices where exactly one of the two is NaN.
    """
    ref, new = np.atleast_2d(np.asarray(ref, float)), np.atleast_2d(np.asarray(new, float))
    if ref.shape != new.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {new.shape}")
    scale = np.nanmax(np.abs(ref), axis=1, initial=0.0, where=np.isfinite(ref))
    scale = np.where(scale > 0, scale, 1.0)
    rel = np.abs(new - ref) / scale[:, None]
    finite = np.isfinite(rel)
    vals = rel[finite]
    per_curve = np.where(finite, rel, 0.0).max(axis=1)
    mismatch = np.isfinite(ref) != np.isfinite(new)
    return {"rel": rel, "max": float(vals.max()) if vals.size else 0.0,
            "median": float(np.median(vals)) if vals.size else 0.0,
            "differ": np.flatnonzero(per_curve > tol), "nan_mismatch": np.flatnonzero(mismatch.any(axis=1))}


def load_reference(rev):
    """The nonlinear solver of git revision ``rev`` as a module (imported from a temporary directory)."""
    tmp = Path(tempfile.mkdtemp(prefix="nl_ref_"))
    tag = "_nlref_" + "".join(ch if ch.isalnum() else "_" for ch in rev)
    mods = {}
    for name in _REF_MODULES:
        src = subprocess.run(["git", "show", f"{rev}:src/trussvae/fem/{name}.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        for other in _REF_MODULES:
            src = src.replace(f"trussvae.fem.{other} ", f"{tag}_{other} ")
        (tmp / f"{tag}_{name}.py").write_text(src)
    sys.path.insert(0, str(tmp))
    for name in _REF_MODULES:
        spec = importlib.util.spec_from_file_location(f"{tag}_{name}", tmp / f"{tag}_{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        mods[name] = mod
    return mods["nonlinear"]


def _compare(frames, rev, kw):
    ref = load_reference(rev)
    opts = {"bifurcation_tol": None, "tol": 1e-7, "time_limit": 60.0} | kw
    ref.uniaxial_compression(frames[0], max_strain=0.01)  # JIT warm-up of both
    uniaxial_compression(frames[0], max_strain=0.01)
    n = len(frames)
    s_ref, s_new = np.full((n, 13), np.nan), np.full((n, 13), np.nan)
    t_ref, t_new, ok_ref, ok_new = np.zeros(n), np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
    it_ref, it_new = np.zeros(n), np.zeros(n)
    # each solver's labelling path: this one stops at the last label strain (0.245), as compression_labels does
    opts_ref = opts | {"max_strain": getattr(ref, "last_label_strain", lambda m: m)(0.25)}
    opts_new = opts | {"max_strain": last_label_strain(0.25)}
    asm_ref, asm_new, first_unstable = np.zeros(n), np.zeros(n), np.zeros(n)
    for k, fr in enumerate(frames):  # interleaved: the same load for both
        c = time.process_time()
        a = ref.uniaxial_compression(fr, **opts_ref)
        t_ref[k] = time.process_time() - c
        c = time.process_time()
        b = uniaxial_compression(fr, **opts_new)
        t_new[k] = time.process_time() - c
        s_ref[k], s_new[k] = a.stress, b.stress
        ok_ref[k], ok_new[k] = a.status == "converged", b.status == "converged"
        it_ref[k], it_new[k] = a.iterations, b.iterations
        asm_ref[k], asm_new[k] = a.work["assemblies"], b.work["assemblies"]
        first_unstable[k] = min(b.unstable_increments, default=np.inf)
    cmp = compare_curves(s_ref, s_new, tol=kw.get("cmp_tol", 1e-3))
    print(f"--compare {rev}: {n} structures, load average {os.getloadavg()[0]:.1f}")
    print(f"  reference: {ok_ref.sum()}/{n} converged, CPU {1e3 * t_ref.mean():.1f} ms per structure "
          f"({n / t_ref.sum():.2f} curves/s per core), Newton iterations mean {it_ref.mean():.1f}, "
          f"assemblies {asm_ref.mean():.1f}")
    print(f"  this:      {ok_new.sum()}/{n} converged, CPU {1e3 * t_new.mean():.1f} ms per structure "
          f"({n / t_new.sum():.2f} curves/s per core), Newton iterations mean {it_new.mean():.1f}, "
          f"assemblies {asm_new.mean():.1f}; "
          f"speed-up {t_ref.sum() / t_new.sum():.2f}x")
    print(f"  relative difference per point (/ max |stress| of the reference curve): max {cmp['max']:.2e}, "
          f"median {cmp['median']:.2e}; curves above 1e-3: {len(cmp['differ'])}, NaN mismatch: "
          f"{len(cmp['nan_mismatch'])}")
    # where curves may legitimately differ: after the path met an instability (an increment whose iteration
    # saw an indefinite Hessian), the post-buckled state reached depends on the path
    from trussvae.fem.nonlinear import LABEL_STRAINS

    branch = [k for k in cmp["differ"]
              if first_unstable[k] <= LABEL_STRAINS[int(np.argmax(cmp["rel"][k] > 1e-3))] + 1e-12]
    print(f"  curves above 1e-3 whose first such point lies at or after an unstable increment (a post-buckling "
          f"branch): {len(branch)} of {len(cmp['differ'])}; curves with an unstable increment: "
          f"{int(np.isfinite(first_unstable).sum())}/{n}")
    stable = np.setdiff1d(np.arange(n), cmp["differ"])
    if len(stable):
        print(f"  the other {len(stable)} curves: max relative difference {np.nanmax(cmp['rel'][stable]):.2e}")
    for k in cmp["differ"]:
        print(f"    #{k}: max rel diff {np.nanmax(cmp['rel'][k]):.3g} at strain index "
              f"{int(np.nanargmax(cmp['rel'][k]))}; first unstable increment at {first_unstable[k]:.4g}; "
              f"ref {np.round(s_ref[k], 5)}; new {np.round(s_new[k], 5)}")
    return s_ref, s_new, cmp


def _unit_cost(f, repeat):
    f()
    best = np.inf
    for _ in range(repeat):
        c = time.process_time()
        f()
        best = min(best, time.process_time() - c)
    return best


def time_split(frames, results, cpu):
    """Total seconds in assembly, Cholesky (Newton + tangent), eigen-decompositions and the rest, estimated
    as the counts of :attr:`CompressionResult.work` times the unit costs measured on each cell."""
    from trussvae.fem.nonlinear import _Cell
    from trussvae.fem.nonlinear_cell import _cholesky_into, evaluate

    tot = {"assembly": 0.0, "cholesky": 0.0, "eigh": 0.0}
    for fr, res in zip(frames, results):
        cell = _Cell(fr, 2, 1e-3, 0, 1.0, 0.3, "timoshenko", True, False)
        ev = cell.evaluate()
        Kf = np.ascontiguousarray(ev.K[np.ix_(cell.free, cell.free)] * np.outer(cell.Ds, cell.Ds))
        w = res.work
        bufs = (np.zeros_like(ev.K), np.zeros_like(ev.r), np.zeros(9), np.zeros_like(ev.X), np.zeros(3))

        def assemble(c=cell, b=bufs):  # the solver's call (preallocated buffers, F21/F31/F32 skipped)
            evaluate(c.geo, c.n_sub, c.shallow, c.w, c.R, c.F, *b, False)

        tot["assembly"] += w["assemblies"] * _unit_cost(assemble, 5)
        # the tangent reuses the Newton factor (a solve); the shifted factorisations of the trust-region steps
        # (Moré-Sorensen) cost one Cholesky each
        U = np.empty_like(Kf)
        tot["cholesky"] += (w["cholesky"] + w.get("shifted_cholesky", 0)) * _unit_cost(
            lambda A=Kf, U=U: _cholesky_into(A, U), 5)
        if w["eigh"]:
            tot["eigh"] += w["eigh"] * _unit_cost(lambda A=Kf: np.linalg.eigh(A), 2)
    tot["rest"] = float(np.sum(cpu)) - sum(tot.values())
    return tot


def regime_split(results):
    """Newton iterations per curve by the regime of the increment (:attr:`CompressionResult.path_iterations`):
    ``pre`` = stable increments before the first unstable one, ``unstable`` = increments whose iteration met an
    indefinite Hessian (:attr:`~CompressionResult.unstable_increments`), ``post`` = stable increments after
    one (the post-buckled path). Returns {regime: (increments, iterations)} summed over the curves."""
    out = {"pre": [0, 0], "unstable": [0, 0], "post": [0, 0]}
    for res in results:
        unstable = np.asarray(res.unstable_increments, float)
        seen = False
        for e, its in zip(res.path_strain[1:], res.path_iterations):
            hit = bool(np.any(np.abs(unstable - e) < 1e-12))
            key = "unstable" if hit else ("post" if seen else "pre")
            seen = seen or hit
            out[key][0] += 1
            out[key][1] += its
    return {k: tuple(v) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="number of generated structures")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (compression_labels n_jobs)")
    ap.add_argument("--seed", type=int, default=11, help="generate_structures seed")
    ap.add_argument("--rho", type=float, default=0.15, help="relative density")
    ap.add_argument("--bisection", action="store_true", help="locate instabilities (bifurcation_tol=0.02)")
    ap.add_argument("--stats", action="store_true", help="also report increments / iterations per structure")
    ap.add_argument("--compare", metavar="REV", help="compare curves and CPU time with the solver of git REV")
    args = ap.parse_args()
    frames = [g.to_frame(relative_density=args.rho) for g in generate_structures(args.n, seed=args.seed)]
    kw = {"bifurcation_tol": 0.02} if args.bisection else {}
    if args.compare:
        _compare(frames, args.compare, kw)
        return
    compression_labels(frames[:1], max_strain=0.01)  # JIT warm-up (cached on disk after the first run)
    t, cpu0 = time.perf_counter(), _cpu_seconds()
    stress, ok, reasons = compression_labels(frames, n_jobs=args.jobs, **kw)
    wall, cpu = time.perf_counter() - t, _cpu_seconds() - cpu0
    nodes = np.array([f.n_nodes for f in frames])
    struts = np.array([f.n_struts for f in frames])
    print(f"{args.n} structures (seed {args.seed}, rho {args.rho}), {args.jobs} process(es)"
          f"{', bisection' if args.bisection else ''}: {ok.sum() / wall:.2f} converged curves/s (wall {wall:.1f} s)")
    print(f"CPU time {1e3 * cpu / args.n:.1f} ms per structure = {ok.sum() / cpu:.2f} converged curves per "
          f"CPU-second (per-core rate; load average {os.getloadavg()[0]:.1f})")
    print(f"wall {1e3 * wall * args.jobs / args.n:.0f} ms per structure per process; "
          f"mean nodes {nodes.mean():.1f}, struts {struts.mean():.1f}")
    print(f"converged {ok.sum()}/{args.n}")
    for k in np.flatnonzero(~ok)[:10]:
        print(f"  #{k}: {reasons[k]}")
    if args.stats:
        opts = {"bifurcation_tol": None, "tol": 1e-7, "max_strain": last_label_strain(0.25)} | kw  # labelling path
        cpu, res = [], []
        for fr in frames:
            c = time.process_time()
            res.append(uniaxial_compression(fr, **opts))
            cpu.append(time.process_time() - c)
        secs = np.array(cpu)
        print(f"per structure (CPU): mean {secs.mean() * 1e3:.1f} ms, median {np.median(secs) * 1e3:.1f} ms, "
              f"max {secs.max() * 1e3:.0f} ms; increments mean {np.mean([r.increments for r in res]):.1f}, "
              f"Newton iterations mean {np.mean([r.iterations for r in res]):.1f}")
        n, split = len(res), regime_split(res)
        total_its = sum(v[1] for v in split.values())
        print("Newton iterations per curve by regime (converged increments; failed tries included): " + ", ".join(
            f"{k} {its / n:.1f} in {inc / n:.2f} increments ({its / max(inc, 1):.2f} each, "
            f"{100 * its / max(total_its, 1):.0f} %)" for k, (inc, its) in split.items()))
        parts = time_split(frames, res, secs)
        total = secs.sum()
        print("time split (counts x unit cost per structure): " + ", ".join(
            f"{k} {100 * v / total:.0f} % ({1e3 * v / len(frames):.1f} ms)" for k, v in parts.items()))


if __name__ == "__main__":
    main()
