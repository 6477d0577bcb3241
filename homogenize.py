"""Build an FE-labelled data set of design-space lattices, or homogenize a lattice of your own.

    python homogenize.py n=100000 seed=0                 # generate + label into data/lattices_seed0 (resumable)
    python homogenize.py n=1000 labels=false             # structures only
    python homogenize.py scheduler=tcp://host:8786 ...   # the same job on a running Dask cluster
    python homogenize.py lattice=my_lattice.json         # one lattice: stiffness, moduli, elastic surface

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
    from trussvae.generation.label import LinearFESettings
    from trussvae.pipeline import build_labelled_dataset, homogenize_lattice_file

    c = OmegaConf.to_container(cfg, resolve=True)
    fe_cfg = {k: v for k, v in c["fem"].items() if k != "kind"}
    if c["fem"]["kind"] != "linear":
        sys.exit(f"fem={c['fem']['kind']}: only linear FE labels are available in this version")
    try:
        fe = LinearFESettings(**fe_cfg)
        if c["lattice"] is not None:
            out_dir = HydraConfig.get().runtime.output_dir
            res = homogenize_lattice_file(c["lattice"], out_dir, fe, c["lattice_relative_density"])
            np.set_printoptions(precision=5, suppress=False, linewidth=120)
            print(f"stiffness (Voigt 11,22,33,23,13,12; units of E_s; rho={res['fe']['relative_density']:.4g}):")
            print(np.array(res["stiffness_voigt"]))
            props = res["properties"]
            for keys in (("E11", "E22", "E33"), ("G23", "G13", "G12"), ("nu12", "nu21", "nu13", "nu31", "nu23", "nu32"),
                         ("K_V", "G_V", "K_R", "G_R", "A_U")):
                print("  " + "  ".join(f"{k}={props[k]:.5g}" for k in keys))
            print(f"written: {out_dir}/homogenized.json, {out_dir}/elastic_surface.png")
            return
        store = build_labelled_dataset(c["out"], c["n"], c["seed"], c["chunk_size"], c["generation"],
                                       fe if c["labels"] else None, c["scheduler"], c["n_workers"], c["progress"])
    except (ValueError, RuntimeError) as exc:
        log.error("%s", exc)
        sys.exit(f"error: {exc}")
    labelled = "with linear FE labels" if c["labels"] else "structures only"
    failed = store.meta.get("labels", {}).get("linear", {}).get("n_failed", 0) if c["labels"] else 0
    print(f"data set: {len(store)} unique valid lattices ({labelled}; {failed} FE failures) in {store.root}")


if __name__ == "__main__":
    main()
