"""Figures, the Markdown report and the interactive HTML report of a design run (see :mod:`trussvae.design.run`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trussvae.design.inverse import DesignResult
from trussvae.design.targets import STRAIN_POINTS, CurveObjective, quantity

__all__ = ["write_figures", "write_report", "write_html", "property_space", "mechanism_note"]

#: training points drawn in the HTML property space (a seeded subsample keeps the page light)
MAX_CLOUD_POINTS = 5000

#: the second axis of the property-space figure, per target quantity
_PARTNER = {"E11": "E22", "E22": "E11", "E33": "E11", "nu21": "E22", "nu12": "E11", "K_V/G_V": "G_V"}


def _figure(w, h):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h))


def write_figures(result: DesignResult, train_props: np.ndarray, out: Path) -> None:
    _path_figure(result, out / "optimisation_path.png")
    space = property_space(result, train_props, max_points=None)  # None for curve targets
    if space is not None:
        _property_space(space, out / "property_space.png")
    _best_candidates(result, out / "best_candidates.png")


def _path_figure(result: DesignResult, path: Path) -> None:
    fig = _figure(6.5, 4)
    ax = fig.add_subplot()
    p = result.predicted_path
    steps = np.arange(len(p))
    ax.plot(steps, p, color="0.75", lw=0.5)
    best = np.nanmin(p, axis=1) if result.objective.sense == "minimize" else np.nanmax(p, axis=1)
    ax.plot(steps, best, color="C0", lw=2, label="predictor (best of the starts)")
    if result.fe_path:
        st, _, v = zip(*result.fe_path)
        ax.scatter(st, v, s=10, color="C3", label="FE-verified decodes", zorder=3)
    ax.axhline(result.best_training_value, color="k", ls="--", label="best in training data")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel(f"{result.objective.name} objective value")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _quantities(result: DesignResult) -> tuple[str, str]:
    q = result.objective.terms[0].quantity
    return q, _PARTNER.get(q, "E11" if q != "E11" else "E22")


def _property_space(space: dict, path: Path) -> None:
    """``property_space.png`` from the dict of :func:`property_space` (all training points)."""
    fig = _figure(6, 5)
    ax = fig.add_subplot()
    ax.scatter(space["train_x"], space["train_y"], s=2, color="0.7", label="training data")
    if "path_x" in space:
        ax.plot(space["path_x"], space["path_y"], color="C0", lw=1.5,
                label="optimisation path of the best latent candidate (predicted)")
    if space.get("fe_x"):
        ax.scatter(space["fe_x"], space["fe_y"], s=12, color="C3", label="FE-verified candidates")
        ax.scatter(space["fe_x"][:1], space["fe_y"][:1], s=90, marker="*", color="gold",
                   edgecolor="k", label="best (FE)", zorder=4)
    ax.set_xlabel(space["x_name"])
    ax.set_ylabel(space["y_name"])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def property_space(result: DesignResult, train_props: np.ndarray, max_points: int | None = MAX_CLOUD_POINTS,
                   seed: int = 0) -> dict | None:
    """The optimisation path in property space against the training cloud, as the plain dict of
    :func:`trussvae.viz.html_report.property_space_figure` (the axes of ``property_space.png``).

    None for curve targets. The cloud is a seeded subsample of at most ``max_points`` finite
    training points (all of them for ``max_points=None``); the path is the predicted one of the
    best latent candidate's start; the FE-verified candidates are listed best first."""
    if isinstance(result.objective, CurveObjective):
        return None
    qx, qy = _quantities(result)

    def xy(props):
        with np.errstate(all="ignore"):
            x, y = np.asarray(quantity(qx, props), dtype=float), np.asarray(quantity(qy, props), dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        return x[ok], y[ok]

    tx, ty = xy(np.asarray(train_props))
    if max_points is not None and len(tx) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(tx), max_points, replace=False))
        tx, ty = tx[keep], ty[keep]
    space = {"x_name": qx, "y_name": qy, "train_x": tx.tolist(), "train_y": ty.tolist()}
    latent = [k for k in result.candidates if k.start >= 0]  # evolved designs have no latent path
    if result.predicted_props is not None and latent:
        px, py = xy(result.predicted_props[:, latent[0].start])
        space.update(path_x=px.tolist(), path_y=py.tolist())
    if result.candidates:
        fx, fy = xy(np.array([k.fe_props for k in result.candidates]))
        space.update(fe_x=fx.tolist(), fe_y=fy.tolist())
    return space


def write_html(results: dict, result: DesignResult, train_props: np.ndarray, out: Path,
               tessellation=(2, 2, 2)) -> Path:
    """``report.html`` in ``out``: :func:`trussvae.viz.html_report.write_design_html` with the
    property space of this run."""
    from trussvae.viz.html_report import write_design_html

    return write_design_html(out, results, property_space=property_space(result, train_props),
                             tessellation=tuple(tessellation))


def mechanism_note(results: dict, n: int = 3) -> list[str]:
    """Warning lines for the best ``n`` candidates that are close to a mechanism (linear targets)."""
    from trussvae.viz.html_report import mechanism_warning

    lines = []
    for c in (results.get("candidates") or [])[:n]:
        if "moduli" not in c:
            continue
        C = json.loads(Path(c["json"]).read_text())["fe"]["stiffness_voigt"]
        warn = mechanism_warning(C)
        if warn:
            lines.append(f"- **warning**: candidate #{c['rank']}: {warn}")
    return lines


def _best_candidates(result: DesignResult, path: Path, n: int = 4) -> None:
    from trussvae.viz.elastic_surface import plot_elastic_surface
    from trussvae.viz.truss3d import plot_truss_graph

    best = result.candidates[:n]
    if not best:
        return
    fig = _figure(3.2 * len(best), 6.2)
    for i, k in enumerate(best):
        plot_truss_graph(k.graph, ax=fig.add_subplot(2, len(best), i + 1, projection="3d"),
                         title=f"#{i}: FE {k.fe_value:.4g}\n(predicted {k.predicted_value:.4g})")
        if isinstance(result.objective, CurveObjective):
            ax = fig.add_subplot(2, len(best), len(best) + i + 1)
            ax.plot(STRAIN_POINTS, result.objective.target, "k--", label="target")
            ax.plot(STRAIN_POINTS, k.fe_props, "C3o-", ms=3, label="FE")
            ax.set_xlabel("strain")
            ax.set_ylabel("stress / E_s")
            ax.legend(fontsize=7)
        else:
            plot_elastic_surface(k.fe_props, ax=fig.add_subplot(2, len(best), len(best) + i + 1, projection="3d"),
                                 n_theta=24, n_phi=48)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_report(results: dict, out: Path) -> Path:
    """``report.md`` in ``out`` (figures and files linked relatively)."""
    lines = [f"# Inverse design: `{results['target']}`", "",
             f"- checkpoint: `{results['checkpoint']}`", f"- data set: `{results['data_dir']}`",
             f"- objective: {results['sense']} (FE-verified, relative density {results['fe']['relative_density']})",
             f"- best value in the training data: **{results['best_training_value']:.5g}**",
             f"- best FE-verified design: **{results['best_fe_value']:.5g}**"
             if results.get("best_fe_value") is not None else "- no valid candidate",
             ]
    if results.get("best_latent_value") is not None:
        lines.append("- best FE-verified decode of the latent search (before polish): "
                     f"{results['best_latent_value']:.5g}")
    if results.get("improvement_over_training") is not None:
        lines.append(f"- improvement over the training data: **{100 * results['improvement_over_training']:+.1f}%**")
    for k, v in (results.get("bound_fractions") or {}).items():
        lines.append(f"- {k}: {v:.3f}")
    evo = results.get("evolution")
    if evo:
        lines.append(f"- evolution (FE only): best {evo['seed_best_value']:.5g} -> **{evo['best_value']:.5g}** in "
                     f"{evo['generations']} generations, {evo['fe_evaluations']} FE runs, "
                     f"{evo['new_candidates']} new designs")
    lines += mechanism_note(results)
    lines += ["", f"{results['n_candidates']} distinct valid candidates were FE-verified; the best 10:", "",
              "| rank | FE value | predicted | origin | novel | repaired | polished from | files |",
              "|---|---|---|---|---|---|---|---|"]
    for c in results["candidates"][:10]:
        files = f"[json]({Path(c['json']).relative_to(out)})"
        if "stl" in c:
            files += f", [stl]({Path(c['stl']).relative_to(out)})"
        pol = f"{c['polished_from']:.5g}" if c.get("polished_from") is not None else ""
        lines.append(f"| {c['rank']} | {c['fe_value']:.5g} | {c['predicted_value']:.5g} | {c.get('origin', 'latent')} "
                     f"| {c['novel']} | {c['repaired']} | {pol} | {files} |")
    lines += ["", "## Figures", "", "![optimisation path](optimisation_path.png)", ""]
    if (out / "property_space.png").is_file():
        lines += ["![property space](property_space.png)", ""]
    lines += ["![best candidates](best_candidates.png)", ""]
    lines += ["The interactive report (rotatable 3D cells, elastic surfaces, property space): "
              "[report.html](report.html)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
