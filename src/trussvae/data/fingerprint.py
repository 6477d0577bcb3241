"""A data set's fingerprint: the few numbers that tell two data sets apart at a glance.

``fingerprint(store)`` summarises a :class:`~trussvae.io.store.LatticeStore` with linear FE labels
(moduli from :mod:`trussvae.fem.elasticity`, units of the labels, i.e. of ``E_s``):

* ``max_E22``, ``min_nu21``, ``max_KV_over_GV`` (Voigt bulk over Voigt shear modulus): the numbers
  the paper quotes for its training data (max E22 0.068, min nu21 -1.897, max K_V/G_V 14);
* ``E_min`` / ``E_max`` over E11, E22, E33 (the paper: Young's moduli spanning 1e-5..1e-2) and
  quantiles of E11;
* quantiles of the number of struts per octant;
* ``n_topologies``: distinct adjacency vectors (and the recorded topology ids, where present).

``python scripts/fingerprint.py STORE`` prints it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trussvae.fem.elasticity import poisson_ratios, voigt_bulk_modulus, voigt_shear_modulus, youngs_moduli
from trussvae.io.store import LatticeStore, StoreError

__all__ = ["fingerprint", "format_fingerprint", "QUANTILES"]

QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0)


def _quantiles(x: np.ndarray) -> dict[str, float]:
    return {f"q{100 * q:g}": float(v) for q, v in zip(QUANTILES, np.quantile(x, QUANTILES))}


def fingerprint(store: LatticeStore | str | Path, labels: str = "linear") -> dict:
    """The fingerprint (a JSON-able dict) of a store with linear labels; rows whose FE failed are
    left out of the moduli (counted in ``n_failed``)."""
    store = store if isinstance(store, LatticeStore) else LatticeStore(store)
    s = store.load_structures()
    try:
        lab = store.load_labels(labels)
    except StoreError as exc:
        raise StoreError(f"{store.root}: a fingerprint needs complete {labels!r} FE labels ({exc})") from exc
    if "stiffness" not in lab:
        raise StoreError(f"{store.root}: label set {labels!r} has no 'stiffness' (linear labels needed)")
    C = np.asarray(lab["stiffness"], dtype=np.float64)
    ok = np.asarray(lab.get("ok", np.ones(len(C), bool)), bool) & np.all(np.isfinite(C.reshape(len(C), -1)), axis=1)
    if not ok.any():
        raise StoreError(f"{store.root}: no structure with finite {labels!r} labels")
    C = C[ok]
    E = youngs_moduli(C)
    nu21 = poisson_ratios(C)[:, 1, 0]
    kg = voigt_bulk_modulus(C) / voigt_shear_modulus(C)
    struts = np.asarray(s["adjacency"], bool).sum(axis=1)
    adj = np.packbits(np.asarray(s["adjacency"], bool), axis=1)
    gen = store.meta.get("generator", {})
    fe = store.meta.get("labels", {}).get(labels, {}).get("fe", {})
    out = {
        "store": str(store.root), "generator": gen.get("name", "default"), "n": int(len(struts)),
        "n_failed": int((~ok).sum()), "relative_density": fe.get("relative_density"),
        "max_E22": float(E[:, 1].max()), "min_nu21": float(nu21.min()), "max_KV_over_GV": float(kg.max()),
        "E_min": float(E.min()), "E_max": float(E.max()), "E11": _quantiles(E[:, 0]),
        "struts_per_octant": _quantiles(struts), "n_topologies": int(len(np.unique(adj, axis=0))),
    }
    if "topology" in s:
        out["n_topology_ids"] = int(len(np.unique(s["topology"])))
    return out


def format_fingerprint(fp: dict) -> str:
    """Human-readable lines of :func:`fingerprint`."""
    q = lambda d, f: "  ".join(f"{k}={v:{f}}" for k, v in d.items())  # noqa: E731
    lines = [f"store {fp['store']} (generator {fp['generator']}): {fp['n']} structures, {fp['n_failed']} without "
             f"labels, relative density {fp['relative_density']}",
             f"  max E22 = {fp['max_E22']:.4g}   min nu21 = {fp['min_nu21']:.4g}   "
             f"max K_V/G_V = {fp['max_KV_over_GV']:.4g}",
             f"  Young's moduli E11, E22, E33 span {fp['E_min']:.3g} .. {fp['E_max']:.3g}",
             f"  E11 quantiles: {q(fp['E11'], '.3g')}",
             f"  struts per octant: {q(fp['struts_per_octant'], 'g')}",
             f"  distinct topologies (adjacency vectors): {fp['n_topologies']}"
             + (f"; recorded topology ids: {fp['n_topology_ids']}" if "n_topology_ids" in fp else "")]
    return "\n".join(lines)
