"""Generative validity: decode samples of the prior and count the valid, repairable and novel trusses.

``n`` latents z ~ N(0, I) (or, with ``prior="learned"``, from the network's fitted learned prior,
:meth:`~trussvae.models.TrussVAENet.sample_latent`; a seeded generator) decoded at threshold 0.5;
``raw`` = fraction valid as decoded, ``repaired`` = fraction valid after :func:`trussvae.design_space.repair.repair`,
``novel_unique`` = among the valid (repaired) ones, the fraction whose canonical hash is not in
the training set and is the first occurrence among the samples.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from trussvae.design_space.repair import repair

__all__ = ["validity_report", "sample_validity"]


def validity_report(graphs: Iterable, train_hashes: set[str] | None = None) -> dict[str, float]:
    """Validity of decoded :class:`~trussvae.design_space.TrussGraph` samples (see module docstring).

    Returns ``raw``, ``repaired``, ``novel_unique`` (NaN when nothing is valid; novelty counts
    every valid sample when ``train_hashes`` is None) and ``n``.
    """
    graphs = list(graphs)
    n = len(graphs)
    n_raw = 0
    valid = []
    for g in graphs:
        if g.n_struts and g.is_valid():
            n_raw += 1
            valid.append(g)
            continue
        r = repair(g)
        if r.n_struts and r.is_valid():
            valid.append(r)
    seen: set[str] = set()
    novel_unique = 0
    for g in valid:
        h = g.canonical_hash()
        if h not in seen and (train_hashes is None or h not in train_hashes):
            novel_unique += 1
        seen.add(h)
    return {"raw": n_raw / max(n, 1), "repaired": len(valid) / max(n, 1),
            "novel_unique": novel_unique / len(valid) if valid else float("nan"), "n": float(n)}


def sample_validity(net, n: int, seed: int = 0, train_hashes: set[str] | None = None,
                    prior: str = "normal") -> dict[str, float]:
    """:func:`validity_report` of ``n`` latent samples (CPU generator seeded with ``seed``) decoded by
    ``net`` (a :class:`~trussvae.models.TrussVAENet` or anything with ``latent_dim`` and
    ``decode_graphs``; for ``prior="learned"`` also ``sample_latent``): z ~ N(0, I) for
    ``prior="normal"``, z from the fitted learned prior for ``"learned"``."""
    if n < 1:
        raise ValueError(f"validity needs n >= 1 samples, got {n}")
    g = torch.Generator().manual_seed(int(seed))
    if prior == "normal":
        z = torch.randn(int(n), net.latent_dim, generator=g)
    elif prior == "learned":
        z = net.sample_latent(int(n), "learned", generator=g)
    else:
        raise ValueError(f"prior must be 'normal' or 'learned', got {prior!r}")
    return validity_report(net.decode_graphs(z), train_hashes or None)
