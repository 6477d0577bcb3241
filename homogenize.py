"""Build an FE-labelled data set of design-space lattices, or homogenize a lattice of your own.

    python homogenize.py n=100000 seed=0                 # generate + label into data/lattices_seed0 (resumable)
    python homogenize.py n=1000 labels=false             # structures only
    python homogenize.py generation=paper n=20000        # the paper's data protocol (20 variants per topology)
    python homogenize.py scheduler=tcp://host:8786 ...   # the same job on a running Dask cluster
    python homogenize.py lattice=my_lattice.json         # one lattice: stiffness, moduli, elastic surface
    python homogenize.py lattice=my_lattice.json export=abaqus   # + lattice.inp to check it in Abaqus
    python homogenize.py import_paper=DIR out=STORE      # the paper's published files -> a store [labels=true]

Configuration: conf/homogenize.yaml (+ conf/generation, conf/fem). The work is done by library
functions in trussvae.pipeline; this script only composes the configuration.
"""

from __future__ import annotations

import logging
import sys

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("homogenize")


@hydra.main(version_base="1.3", config_path="conf", config_name="homogenize")
def main(cfg: DictConfig) -> None:
    from trussvae.fem.settings import settings_for
    from trussvae.parallel import set_verbose
    from trussvae.pipeline import build_labelled_dataset, compress_lattice_file, homogenize_lattice_file

    c = OmegaConf.to_container(cfg, resolve=True)
    set_verbose(c["verbose"])
    kind = c["fem"].pop("kind")
    labels = c["labels"] if c["labels"] is not None else c["import_paper"] is None
    try:
        fe = settings_for(kind, **c["fem"])
        if c["lattice"] is not None:
            out_dir = HydraConfig.get().runtime.output_dir
            if c["export"] is not None and (c["export"] != "abaqus" or kind != "linear"):
                raise ValueError(f"export must be null or abaqus (with fem=linear), got {c['export']!r}")
            if kind == "nonlinear":
                _print_compression(compress_lattice_file(c["lattice"], out_dir, fe, c["lattice_relative_density"]),
                                   out_dir)
            else:
                res = homogenize_lattice_file(c["lattice"], out_dir, fe, c["lattice_relative_density"])
                _print_stiffness(res, out_dir)
                if c["export"] == "abaqus":
                    from trussvae.fem import PeriodicFrame
                    from trussvae.fem.abaqus import write_abaqus_input

                    inp = write_abaqus_input(PeriodicFrame.from_dict(res["frame"]), f"{out_dir}/lattice.inp",
                                             c["abaqus_elements"], fe.E_s, fe.nu_s)
                    print(f"written: {inp} (Abaqus input; how to run it and read C back: docs/fem.md)")
            return
        if c["export"] is not None:
            raise ValueError("export=abaqus needs lattice=path.json (it exports one lattice)")
        if c["import_paper"] is not None:
            from trussvae.pipeline import import_paper_dataset, paper_import_summary

            print(paper_import_summary(*import_paper_dataset(c["import_paper"], c["out"], fe if labels else None,
                                                             c["paper_frame"], c["chunk_size"], c["scheduler"],
                                                             c["n_workers"], c["progress"])))
            return
        store = build_labelled_dataset(c["out"], c["n"], c["seed"], c["chunk_size"], c["generation"],
                                       fe if labels else None, c["scheduler"], c["n_workers"], c["progress"],
                                       c["label_rows"])
    except (ValueError, RuntimeError, TypeError) as exc:
        log.error("%s", exc)
        sys.exit(f"error: {exc}")
    labelled = f"with {kind} FE labels" if labels else "structures only"
    failed = store.meta.get("labels", {}).get(kind, {}).get("n_failed", 0) if labels else 0
    if store.meta["generator"].get("name") == "paper":
        strict = store.meta["strict_validity"]
        print(f"data set: {len(store)} lattices of {store.meta['n_topologies']} topologies, paper protocol "
              f"({labelled}; {failed} FE failures; {strict['n_invalid']} kept although our validity rules reject "
              f"them: {strict['violations']}) in {store.root}")
    else:
        print(f"data set: {len(store)} unique valid lattices ({labelled}; {failed} FE failures) in {store.root}")


def _print_stiffness(res: dict, out_dir: str) -> None:
    np.set_printoptions(precision=5, suppress=False, linewidth=120)
    print(f"stiffness (Voigt 11,22,33,23,13,12; units of E_s; rho={res['fe']['relative_density']:.4g}):")
    print(np.array(res["stiffness_voigt"]))
    props = res["properties"]
    for keys in (("E11", "E22", "E33"), ("G23", "G13", "G12"), ("nu12", "nu21", "nu13", "nu31", "nu23", "nu32"),
                 ("K_V", "G_V", "K_R", "G_R", "A_U")):
        print("  " + "  ".join(f"{k}={props[k]:.5g}" for k in keys))
    print(f"written: {out_dir}/homogenized.json, {out_dir}/elastic_surface.png")


def _print_compression(res: dict, out_dir: str) -> None:
    print(f"uniaxial compression along e3: {res['status']}"
          + (f" ({res['reason']}, reached {100 * res['max_strain_reached']:.1f}%)" if res["status"] != "converged"
             else ""))
    for e, s in zip(res["strain"], res["stress"]):
        print(f"  strain {100 * e:5.1f}%   stress {s:.5g} E_s")
    print(f"written: {out_dir}/compression.json, {out_dir}/compression.png")


if __name__ == "__main__":
    main()
