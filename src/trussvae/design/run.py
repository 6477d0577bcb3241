"""A complete design run (library side of ``design.py``): optimise, verify, export, report.

Outputs in ``out_dir``:

``results.json``                 target, best_training_value, candidates ranked by FE value (each
                                 with its ``origin``: latent or evolve), the evolution's record
``candidates/cand_XXX.json``     truss graph + periodic frame + FE results of each candidate
``candidates/cand_XXX.stl``      printable block of the best ``n_stl`` candidates (one watertight solid)
``candidates/cand_XXX.inp``      with ``export_abaqus``: Abaqus input file of the unit cell (docs/fem.md)
``optimisation_path.png``        predicted and FE-verified objective along the optimisation
``property_space.png``           the path in property space against the training cloud
``best_candidates.png``          3D renderings + elastic surfaces (or stress-strain curves)
``report.md``                    a self-contained summary (relative links to the figures)
``report.html``                  one self-contained interactive page (opens offline): rotatable unit cells
                                 and printable blocks of the best candidates, their elastic surfaces or
                                 curves (target, prediction, FE), the path in property space, the table
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from trussvae.design.evaluate import label_kind
from trussvae.design.inverse import DesignResult, InverseDesignConfig, run_inverse_design
from trussvae.design.targets import STRAIN_POINTS, CurveObjective
from trussvae.fem.settings import FESettings

log = logging.getLogger(__name__)

__all__ = ["TrainingSet", "load_training_set", "load_model", "design_run", "find_latest_run"]


def find_latest_run(roots=("outputs/train", "multirun/train")) -> Path | None:
    """The most recent training run folder with a ``metrics.json`` (None if there is none)."""
    runs = [p.parent for r in roots for p in Path(r).glob("**/metrics.json")]
    runs = [r for r in runs if json.loads((r / "metrics.json").read_text()).get("best_checkpoint")]
    return max(runs, key=lambda r: (r / "metrics.json").stat().st_mtime) if runs else None


@dataclass
class TrainingSet:
    """The training split with valid labels, and the FE settings its labels were made with."""

    adjacency: np.ndarray  # (N, 351) float32
    offsets: np.ndarray  # (N, 27)
    #: (N, 6, 6) stiffness (linear labels) or (N, 13) stresses (nonlinear labels)
    props: np.ndarray
    hashes: np.ndarray  # (N,) canonical hashes
    #: the data set's FE settings of these labels (``meta.json``: ``labels.<kind>.fe``)
    fe: FESettings


def load_training_set(data_dir: str | Path, target: str, split_seed: int = 0,
                      split_fractions=(0.8, 0.1, 0.1), split: str = "random") -> TrainingSet:
    """The training split of the data set ``data_dir`` with valid ``target`` labels (``"linear"``
    or ``"nonlinear"``), and the FE settings with which those labels were made. ``split`` is the
    split mode the model was trained with (``"random"`` | ``"topology"``,
    :mod:`trussvae.data.splits`; a checkpoint records it, :func:`trussvae.models.load_network`).

    Raises
    ------
    ValueError
        If ``meta.json`` does not record the FE settings of the ``target`` labels.
    """
    from trussvae.data.splits import load_or_create_split, topology_groups
    from trussvae.fem.settings import settings_from_meta
    from trussvae.io import LatticeStore

    store = LatticeStore(data_dir)
    try:
        fe = settings_from_meta(store.meta, target)
    except ValueError as exc:
        raise ValueError(f"{data_dir}: {exc}") from None
    s = store.load_structures()
    labels = store.load_labels(target, allow_partial=target == "nonlinear")  # nonlinear: often a subset
    props = labels["stiffness"] if target == "linear" else labels["stress"]
    ok = labels["ok"].astype(bool) & np.all(np.isfinite(props.reshape(len(props), -1)), axis=1)
    groups = topology_groups(s) if split == "topology" else None
    train = load_or_create_split(data_dir, len(ok), split_fractions, split_seed, split, groups)["train"]
    train = train[ok[train]]
    return TrainingSet(s["adjacency"][train].astype(np.float32), s["offsets"][train], props[train],
                       s["hashes"][train], fe)


def load_model(ckpt_path: str | Path):
    """The trained network of a checkpoint (a plain ``nn.Module``, no Lightning), on the CPU."""
    from trussvae.models import load_network

    return load_network(str(ckpt_path), map_location="cpu")[0]


def design_run(ckpt_path: str | Path, data_dir: str | Path, objective, out_dir: str | Path,
               cfg: InverseDesignConfig | None = None, split_seed: int = 0,
               split_fractions=(0.8, 0.1, 0.1), n_stl: int = 3, tessellation=(2, 2, 2),
               progress: bool = True, export_abaqus: bool = False, split: str = "random") -> dict:
    """Run inverse design with a trained checkpoint and write every output (see module doc).

    Designs are verified with the FE settings of the data set's labels (its ``meta.json``)."""
    cfg = cfg or InverseDesignConfig()
    out = Path(out_dir)
    (out / "candidates").mkdir(parents=True, exist_ok=True)
    model = load_model(ckpt_path)
    train = load_training_set(data_dir, label_kind(objective), split_seed, split_fractions, split)
    fe = train.fe
    log.info("FE settings of the data set's %s labels: %s", fe.kind, fe.as_dict())
    result = run_inverse_design(model, objective, train.adjacency, train.offsets, train.props, cfg, fe, progress)
    predicted_curves = None
    if isinstance(objective, CurveObjective):  # the predictor's curve at each final truss (reports show it)
        from trussvae.design.search import predicted_properties

        predicted_curves = predicted_properties(model, objective, [k.graph for k in result.candidates])
    results = _write_candidates(result, out, fe, n_stl, tessellation, set(train.hashes.tolist()),
                                export_abaqus, predicted_curves)
    results.update(checkpoint=str(ckpt_path), data_dir=str(data_dir), config=asdict(cfg), fe=fe.as_dict())
    (out / "results.json").write_text(json.dumps(results, indent=1))
    from trussvae.design.report import write_figures, write_html, write_report

    write_figures(result, train.props, out)
    write_report(results, out)
    t0 = time.perf_counter()
    write_html(results, result, train.props, out, tessellation)
    log.info("report.html written in %.1f s", time.perf_counter() - t0)
    return results


def _write_candidates(result: DesignResult, out: Path, fe, n_stl: int, tessellation, train_hashes: set,
                      export_abaqus: bool = False, predicted_curves: np.ndarray | None = None) -> dict:
    from trussvae.design.export import export_stl
    from trussvae.fem.properties import effective_properties

    obj = result.objective
    best_train = result.best_training_value
    rows = []
    for rank, k in enumerate(result.candidates):
        frame = k.graph.to_frame(relative_density=fe.relative_density)
        stem = out / "candidates" / f"cand_{rank:03d}"
        if isinstance(obj, CurveObjective):
            fe_results = {"strain": list(STRAIN_POINTS), "stress": k.fe_props.tolist()}
        else:
            fe_results = {"stiffness_voigt": k.fe_props.tolist(),
                          "properties": effective_properties(k.fe_props, fe.relative_density, fe.E_s, fe.nu_s)}
        record = {"rank": rank, "fe_value": k.fe_value, "predicted_value": k.predicted_value,
                  "feasible": k.feasible, "repaired": k.repaired, "start": int(k.start), "step": int(k.step),
                  "polished_from": k.polished_from, "origin": k.origin,
                  "novel": k.graph.canonical_hash() not in train_hashes, "fe": fe_results}
        stem.with_suffix(".json").write_text(json.dumps(
            {**record, "truss_graph": k.graph.to_dict(), "frame": frame.to_dict()}, indent=1))
        entry = {**record, "json": str(stem.with_suffix(".json"))}
        if rank < n_stl:
            entry["stl"] = str(export_stl(frame, stem.with_suffix(".stl"), tessellation))
            if export_abaqus:
                from trussvae.fem.abaqus import write_abaqus_input

                entry["abaqus"] = str(write_abaqus_input(frame, stem.with_suffix(".inp"), E_s=fe.E_s, nu_s=fe.nu_s))
        if "properties" in fe_results:
            entry["moduli"] = fe_results["properties"]
        else:
            entry["curve"] = fe_results["stress"]
            if predicted_curves is not None:
                entry["predicted_curve"] = [float(v) for v in predicted_curves[rank]]
        rows.append(entry)
    best = rows[0] if rows else None
    improvement = None  # positive = better than the best training structure
    if best is not None and best_train not in (0, None):
        sign = 1.0 if obj.sense == "maximize" else -1.0
        improvement = sign * (best["fe_value"] - best_train) / abs(best_train)
    summary = {"target": obj.name, "sense": obj.sense, "best_training_value": best_train,
               "best_fe_value": best["fe_value"] if best else None, "improvement_over_training": improvement,
               "best_latent_value": result.best_latent_value,
               "n_candidates": len(rows), "candidates": rows}
    if result.evolution is not None:
        summary["evolution"] = result.evolution
    if isinstance(obj, CurveObjective):
        summary["strain"] = list(STRAIN_POINTS)
        summary["target_curve"] = list(obj.target)
    if best is not None and "moduli" in best:
        m = best["moduli"]
        summary["bound_fractions"] = {k: m[k] for k in m if "/" in k and ("_voigt" in k or "_hs" in k)}
    return summary
