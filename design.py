"""Inverse design of truss metamaterials in the VAE's latent space, verified by FE.

    python design.py target=auxetic                      # minimise nu21 (default target)
    python design.py target=stiff target.quantity=E33    # maximise E33
    python design.py target=pentamode search.n_steps=400 polish.top=5
    python design.py target=stiffness 'target.values={C1111: 0.03, C2222: 0.03}'
    python design.py target=curve target.mode=softening  # needs a model trained on nonlinear labels
    python design.py ckpt_path=outputs/train/<run>/checkpoints/best.ckpt

Uses the most recent training run (outputs/train, multirun/train) unless told otherwise, and
writes results.json, candidate JSON/STL files, figures and report.md into the run folder.
Configuration: conf/design.yaml (search, polish, evolve) and conf/target/*.yaml. Designs are
verified by FE with the settings of the data set's labels (its meta.json).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("design")

NO_MODEL = ("no trained model found (searched outputs/train and multirun/train for a run with metrics.json). "
            "Build a labelled data set and train one first:\n"
            "    python homogenize.py n=20000\n    python train.py\n"
            "or point design.py at a checkpoint: python design.py ckpt_path=/path/to/model.ckpt")


def _training_run_settings(run_dir: Path | None, ckpt_path: str | None) -> dict:
    """Checkpoint, data set and split (seed, fractions, mode) of a training run.

    The checkpoint is ``ckpt_path`` or the run's best (its metrics.json); data set and split come
    from the checkpoint's own record (:func:`trussvae.models.load_network`). Checkpoints written
    before the data set was recorded have none: for those only, they are read from the training
    run's .hydra/config.yaml (data_dir stays None when that is missing too).
    """
    from trussvae.models import load_network

    out = {"ckpt_path": ckpt_path, "data_dir": None, "split_seed": 0, "split_fractions": [0.8, 0.1, 0.1],
           "split": "random"}
    if run_dir is None and ckpt_path:
        for parent in Path(ckpt_path).resolve().parents:  # <run>/checkpoints/x.ckpt
            if (parent / ".hydra" / "config.yaml").is_file():
                run_dir = parent
                break
    if run_dir is not None and out["ckpt_path"] is None:
        metrics = run_dir / "metrics.json"
        best = json.loads(metrics.read_text()).get("best_checkpoint") if metrics.is_file() else None
        if not best:
            sys.exit(f"design.py: training run {run_dir} has no finished metrics.json with a best checkpoint; "
                     "pass ckpt_path=<run>/checkpoints/<file>.ckpt")
        out["ckpt_path"] = best
    if out["ckpt_path"]:
        try:
            _, info = load_network(out["ckpt_path"])
        except (FileNotFoundError, ValueError) as exc:  # no file, not a trussvae checkpoint, corrupt
            sys.exit(f"design.py: {exc}")
        if info["data_dir"]:
            out.update(data_dir=info["data_dir"], split_seed=info["split_seed"],
                       split_fractions=list(info["split_fractions"]), split=info.get("split") or "random")
            return out
    # old checkpoints only (written before checkpoints recorded their data set): the training run's Hydra config
    cfg_file = run_dir / ".hydra" / "config.yaml" if run_dir is not None else None
    if cfg_file is not None and cfg_file.is_file():
        run_cfg = OmegaConf.load(cfg_file)  # ${hydra:...} resolves: we run inside a Hydra app too
        data = OmegaConf.to_container(run_cfg, resolve=True)["data"]
        out.update(data_dir=data.get("data_dir"), split_seed=data.get("split_seed", 0),
                   split_fractions=list(data.get("split_fractions", out["split_fractions"])),
                   split=data.get("split", "random"))
    return out


@hydra.main(version_base="1.3", config_path="conf", config_name="design")
def main(cfg: DictConfig) -> None:
    from trussvae.design.inverse import InverseDesignConfig
    from trussvae.design.run import design_run, find_latest_run, load_training_set
    from trussvae.design.targets import objective_from_spec

    c = OmegaConf.to_container(cfg, resolve=True)
    run_dir = Path(c["train_run"]) if c["train_run"] else (None if c["ckpt_path"] else find_latest_run())
    if run_dir is None and not c["ckpt_path"]:
        sys.exit(NO_MODEL)
    settings = _training_run_settings(run_dir, c["ckpt_path"])
    data_dir = c["data_dir"] or settings["data_dir"]
    if not data_dir:
        sys.exit("design.py: cannot tell which data set the checkpoint was trained on; pass data_dir=...")
    split_seed = settings["split_seed"] if c["split_seed"] is None else c["split_seed"]
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        design_cfg = InverseDesignConfig.from_dict({k: c[k] for k in ("search", "polish", "evolve", "fe_jobs", "seed")})
        train_curves = None
        if c["target"]["name"] == "curve":
            train_curves = load_training_set(data_dir, "nonlinear", split_seed, settings["split_fractions"],
                                             settings["split"]).props
        objective = objective_from_spec(c["target"], train_curves)
        results = design_run(settings["ckpt_path"], data_dir, objective, out_dir, design_cfg, split_seed=split_seed,
                             split_fractions=settings["split_fractions"], n_stl=c["n_stl"],
                             tessellation=tuple(c["tessellation"]), progress=c["progress"],
                             export_abaqus=c["export_abaqus"], split=settings["split"])
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        log.error("%s", exc)
        sys.exit(f"design.py: {exc}")
    best = results["candidates"][0] if results["candidates"] else None
    print(f"target {results['target']}: best in training data {results['best_training_value']:.5g}; "
          f"best FE-verified design {best['fe_value']:.5g} (predicted {best['predicted_value']:.5g})"
          if best else "no valid candidate")
    if results.get("improvement_over_training") is not None:
        print(f"improvement over the training data: {100 * results['improvement_over_training']:+.1f}%")
    print(f"report: {out_dir / 'report.md'}; interactive: {out_dir / 'report.html'}")


def _refuse_renamed_overrides(argv) -> None:
    """Exit with the new key for an override of the old flat ``optimizer.*`` block."""
    from trussvae.design.inverse import renamed_key_message

    for arg in argv:
        msg = renamed_key_message(arg.split("=", 1)[0])
        if msg:
            sys.exit(f"design.py: {msg}")


if __name__ == "__main__":
    _refuse_renamed_overrides(sys.argv[1:])
    main()
