"""Library side of the ``homogenize.py`` entry point (plain arguments, no Hydra)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from trussvae.fem.settings import LinearFESettings, NonlinearFESettings

log = logging.getLogger(__name__)

__all__ = ["homogenize_lattice_file", "compress_lattice_file", "build_labelled_dataset"]


def _frame_from_file(path, relative_density: float | None, default_density: float):
    """(frame, graph-or-None) of a lattice file; TrussGraphs are validated (all reasons listed)."""
    from trussvae.design_space import TrussGraph
    from trussvae.io.lattice_file import load_lattice

    lattice = load_lattice(path)
    if isinstance(lattice, TrussGraph):
        reasons = lattice.validate()
        if reasons:
            raise ValueError(f"{path}: invalid design-space truss:\n  - " + "\n  - ".join(reasons))
        return lattice.to_frame(relative_density=relative_density or default_density), lattice
    return (lattice if relative_density is None else lattice.with_relative_density(relative_density)), None


def compress_lattice_file(path: str | Path, out_dir: str | Path, fe: NonlinearFESettings,
                          relative_density: float | None = None, figures: bool = True) -> dict:
    """Uniaxial compression (``fe``: NonlinearFESettings) of one lattice file; writes ``compression.json``."""
    frame, graph = _frame_from_file(path, relative_density, fe.relative_density)
    res = fe.compress(frame)
    result = {"lattice_file": str(path), "fe": {**fe.as_dict(), "relative_density": frame.relative_density()},
              "status": res.status, "reason": res.reason, "max_strain_reached": res.max_strain_reached,
              "strain": res.strain.tolist(), "stress": res.stress.tolist(),
              "path_strain": res.path_strain.tolist(), "path_stress": res.path_stress.tolist(),
              "frame": frame.to_dict(), "truss_graph": graph.to_dict() if graph is not None else None}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compression.json").write_text(json.dumps(result, indent=1))
    if figures:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        ax = fig.add_subplot()
        ax.plot(100 * res.path_strain, res.path_stress, "-", label="every increment")
        ax.plot(100 * res.strain, res.stress, "o", label="13 label points")
        ax.set_xlabel("compressive strain [%]")
        ax.set_ylabel("nominal stress / E_s")
        ax.set_title(f"{res.status}" + (f": {res.reason}" if res.status != "converged" else ""), fontsize=8)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "compression.png", dpi=120)
    return result


def homogenize_lattice_file(path: str | Path, out_dir: str | Path, fe: LinearFESettings | None = None,
                            relative_density: float | None = None, figures: bool = True) -> dict:
    """Homogenize one lattice file; write ``homogenized.json`` (+ figures) into ``out_dir``.

    A TrussGraph file is validated (invalid -> ValueError listing every reason) and gets the
    radius of ``fe.relative_density``. A PeriodicFrame keeps its radii unless
    ``relative_density`` is given. Returns the result dict (stiffness, compliance, properties).
    """
    from trussvae.fem.elasticity import stiffness_to_compliance
    from trussvae.fem.properties import effective_properties

    fe = fe or LinearFESettings()
    frame, graph = _frame_from_file(path, relative_density, fe.relative_density)
    C = fe.homogenize(frame)
    rho = frame.relative_density()
    result = {
        "lattice_file": str(path),
        "fe": {**fe.as_dict(), "relative_density": rho},
        "stiffness_voigt": C.tolist(),
        "compliance_voigt": stiffness_to_compliance(C).tolist(),
        "properties": effective_properties(C, relative_density=rho, E_s=fe.E_s, nu_s=fe.nu_s),
        "frame": frame.to_dict(),
        "truss_graph": graph.to_dict() if graph is not None else None,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "homogenized.json").write_text(json.dumps(result, indent=1))
    if figures:
        _lattice_figures(frame, C, out_dir)
    return result


def _lattice_figures(frame, C: np.ndarray, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trussvae.viz.elastic_surface import plot_elastic_surface
    from trussvae.viz.truss3d import plot_frame

    fig = plt.figure(figsize=(9, 4.5))
    plot_frame(frame, ax=fig.add_subplot(1, 2, 1, projection="3d"), title="unit cell")
    plot_elastic_surface(C, ax=fig.add_subplot(1, 2, 2, projection="3d"))
    fig.tight_layout()
    fig.savefig(out_dir / "elastic_surface.png", dpi=120)
    plt.close(fig)


def build_labelled_dataset(out: str | Path, n: int, seed: int, chunk_size: int, generator: dict,
                           fe, scheduler: str, n_workers: int | None, progress: bool = True,
                           label_rows: int | None = None):
    """Generate (resumably) ``n`` structures into ``out`` and, if ``fe`` is given (Linear- or
    NonlinearFESettings), FE-label them (only the chunks of the first ``label_rows`` if given)."""
    from trussvae.generation import GeneratorConfig, build_dataset
    from trussvae.generation.label import label_dataset

    store = build_dataset(out, n=n, seed=seed, chunk_size=chunk_size, config=GeneratorConfig.from_dict(generator),
                          scheduler=scheduler, n_workers=n_workers, progress=progress)
    if fe is not None:
        label_dataset(store, fe, scheduler=scheduler, n_workers=n_workers, progress=progress, max_rows=label_rows)
    return store
