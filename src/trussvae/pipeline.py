"""Library side of the ``homogenize.py`` entry point (plain arguments, no Hydra)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from trussvae.fem.settings import LinearFESettings, NonlinearFESettings

log = logging.getLogger(__name__)

__all__ = ["homogenize_lattice_file", "compress_lattice_file", "build_labelled_dataset", "import_paper_dataset",
           "paper_import_summary"]

#: ``origin`` of structures imported from files (0 and 1 are the generator's library / superposition)
ORIGIN_IMPORTED = 2


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
    NonlinearFESettings), FE-label them (only the chunks of the first ``label_rows`` if given).

    ``generator``: the parameters of :class:`~trussvae.generation.GeneratorConfig`, or, with
    ``name: paper``, of the paper's protocol (:mod:`trussvae.generation.paper_protocol`)."""
    from trussvae.generation import GeneratorConfig, build_dataset
    from trussvae.generation.label import label_dataset

    generator = dict(generator or {})
    name = generator.pop("name", "default")
    if name == "paper":
        from trussvae.generation.paper_protocol import PaperProtocolConfig, build_paper_dataset

        store = build_paper_dataset(out, n=n, seed=seed, chunk_size=chunk_size,
                                    config=PaperProtocolConfig.from_dict(generator), scheduler=scheduler,
                                    n_workers=n_workers, progress=progress)
    elif name == "default":
        store = build_dataset(out, n=n, seed=seed, chunk_size=chunk_size, config=GeneratorConfig.from_dict(generator),
                              scheduler=scheduler, n_workers=n_workers, progress=progress)
    else:
        raise ValueError(f"generation.name must be 'default' or 'paper', got {name!r}")
    if fe is not None:
        label_dataset(store, fe, scheduler=scheduler, n_workers=n_workers, progress=progress, max_rows=label_rows)
    return store


def import_paper_dataset(directory: str | Path, out: str | Path, fe=None, frame: str | None = None,
                         chunk_size: int = 1000, scheduler: str = "local", n_workers: int | None = None,
                         progress: bool = True, check_positions: bool = True):
    """Convert a data set in the paper's file format (:mod:`trussvae.io.paper_format`) to a store.

    Every structure of the files becomes a row of the store, in file order (duplicates and
    structures our validity rules reject are kept and counted in ``meta.json``); the file's
    stiffness becomes the label set ``paper`` (``orthotropic`` (n, 9) in the file's order and units,
    ``stiffness`` (n, 6, 6) Voigt, ``ok``). ``meta.json['generator']`` records ``name:
    paper_files``, the detected numbering and the files' sha256. With ``fe`` (FE settings) the
    structures are FE-labelled as well; for linear labels and a file with stiffness the
    comparison (:func:`~trussvae.io.paper_format.compare_stiffness`) is returned and recorded in
    ``meta.json['paper_comparison']``. Returns ``(store, comparison or None)``.
    """
    from collections import Counter
    from types import SimpleNamespace

    from trussvae import __version__
    from trussvae.design_space import DESIGN_SPACE_VERSION, TrussGraph
    from trussvae.fem.elasticity import ORTHOTROPIC_NAMES, stiffness_from_orthotropic
    from trussvae.io.paper_format import UNITS, compare_stiffness, open_paper_dataset
    from trussvae.io.store import LatticeStore

    if int(chunk_size) <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    chunk_size = int(chunk_size)
    ds = open_paper_dataset(directory, frame=frame, check_positions=check_positions)
    info = ds.info
    generator = {"name": "paper_files", "format": "Zheng et al. 2023 published files (ETH research collection)",
                 "package_version": __version__, "design_space": DESIGN_SPACE_VERSION, "frame": ds.frame,
                 "chunk_size": chunk_size, "check_positions": bool(check_positions), "files": ds.checksums()}
    store = LatticeStore.create_or_open(out, {"design_space": DESIGN_SPACE_VERSION, "generator": generator})
    store.update_meta(source_directory=str(Path(directory).resolve()), frame_source=ds.frame_source)
    n_chunks = -(-ds.n // chunk_size)
    done = set(store.structure_chunks())
    for c in range(n_chunks):
        if c in done:
            continue
        start, stop = c * chunk_size, min(ds.n, (c + 1) * chunk_size)
        adjacency, offsets = ds.arrays(start, stop)
        graphs = [TrussGraph.from_offsets(_symmetric(a), o) for a, o in zip(adjacency, offsets)]
        validity: Counter = Counter()
        n_valid = 0
        for g in graphs:
            codes = {code for code, _ in g.violations()}
            validity.update(codes)
            n_valid += not codes
        stats = {"n": len(graphs), "source_rows": [start, stop], "n_valid": n_valid,
                 "violations": dict(sorted(validity.items()))}
        if ds.stiffness is not None:
            ortho = ds.stiffness[start:stop]
            store.write_label_chunk("paper", c, {"n": len(graphs), "n_failed": 0}, orthotropic=ortho,
                                    stiffness=stiffness_from_orthotropic(ortho), ok=np.ones(len(graphs), bool))
        store.write_structure_chunk(c, SimpleNamespace(
            adjacency=adjacency, offsets=offsets, hashes=np.array([g.canonical_hash() for g in graphs]),
            origin=np.full(len(graphs), ORIGIN_IMPORTED, np.int8), stats=stats))
    chunk_ids = np.repeat(np.arange(n_chunks), chunk_size)[: ds.n]
    store.write_index(chunk_ids, np.arange(ds.n) - chunk_ids * chunk_size)
    violations: Counter = Counter()
    n_valid = 0
    for c in range(n_chunks):
        st = store.chunk_stats(c)
        violations.update(st["violations"])
        n_valid += st["n_valid"]
    hashes = store.load_structures()["hashes"]
    meta = {"n": ds.n, "n_chunks": n_chunks, "n_duplicates": int(ds.n - len(np.unique(hashes))),
            "validity": {"n_valid": n_valid, "violations": dict(sorted(violations.items()))}}
    if ds.stiffness is not None:
        meta["labels"] = {**store.meta.get("labels", {}), "paper": {
            "source": info["files"]["stiffness"], "units": UNITS, "components": list(ORTHOTROPIC_NAMES),
            "n_failed": 0, "n_chunks_labelled": n_chunks}}
    store.update_meta(**meta)
    comparison = None
    if fe is not None:
        from trussvae.fem.settings import LinearFESettings
        from trussvae.generation.label import label_dataset

        label_dataset(store, fe, scheduler=scheduler, n_workers=n_workers, progress=progress)
        if isinstance(fe, LinearFESettings) and ds.stiffness is not None:
            ours = store.load_labels(fe.kind)
            comparison = compare_stiffness(ds.stiffness, np.where(ours["ok"][:, None], ours["orthotropic"], np.nan))
            comparison["fe"] = fe.as_dict()
            store.update_meta(paper_comparison={"fe_labels": fe.kind, **comparison})
    return store, comparison


def _symmetric(adj_vec: np.ndarray) -> np.ndarray:
    from trussvae.design_space import octant

    adj = np.zeros((octant.N_NODES, octant.N_NODES), dtype=bool)
    adj[octant.TRIU_I, octant.TRIU_J] = adj_vec
    return adj | adj.T


def paper_import_summary(store, comparison: dict | None) -> str:
    """What :func:`import_paper_dataset` made, for the console (with the FE comparison if any)."""
    from trussvae.io.paper_format import format_comparison

    m = store.meta
    source = "given by paper_frame" if m["frame_source"] == "argument" else f"detected from the {m['frame_source']}"
    text = (f"imported {m['n']} structures ({m['generator']['frame']} numbering, {source}; "
            f"{m['validity']['n_valid']} valid under our rules, {m['n_duplicates']} duplicates) "
            f"into {store.root}")
    if "paper" in m.get("labels", {}):
        text += "\nthe file's stiffness is label set 'paper' (units as published)"
    labelled = [k for k in m.get("labels", {}) if k != "paper"]
    if labelled:
        text += f"\nour FE labels: {', '.join(labelled)}"
    return text + ("\n" + format_comparison(comparison) if comparison is not None else "")
