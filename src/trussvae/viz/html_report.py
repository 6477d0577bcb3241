"""Self-contained interactive HTML reports (one file, opens offline, no server).

:class:`HtmlReport` collects sections (headings, paragraphs, tables, images, plotly figures) and
writes one HTML file with plotly.js embedded once. :func:`design_report` fills a report from the
outputs of a design run (``results.json`` and the candidate JSON files, see
:mod:`trussvae.design.run`): rotatable unit cells and printable blocks of the best candidates,
their elastic surfaces or stress-strain curves against the target, the optimisation path in
property space against the training cloud, and the table of FE-verified values.

The page carries a small script, first in ``<head>``, that records uncaught errors and
``console.error`` calls into ``<pre id="console-errors">``, and counts the rendered plots in
``<body data-plots-rendered=...>``: a headless browser's ``--dump-dom`` shows both (the tests
use them).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from trussvae.fem import elasticity as el
from trussvae.fem.frame import PeriodicFrame

__all__ = ["HtmlReport", "design_report", "write_design_html", "mechanism_warning", "MECHANISM_STIFFNESS"]

#: a design whose smallest Young's or shear modulus is below this (units of E_s, i.e. ~1e-4 of
#: the relative density 0.15) is close to a mechanism: it carries load only by bending of
#: near-aligned struts or not at all in some direction
MECHANISM_STIFFNESS = 1e-4

_ERROR_HOOK = """<script>
(function () {
  var errs = [];
  function show() {
    var el = document.getElementById("console-errors");
    if (el) { el.textContent = errs.join("\\n"); el.style.display = errs.length ? "block" : "none"; }
  }
  window.addEventListener("error", function (e) { errs.push("error: " + e.message); show(); });
  window.addEventListener("unhandledrejection", function (e) { errs.push("rejection: " + e.reason); show(); });
  var ce = console.error;
  console.error = function () {
    errs.push(Array.prototype.join.call(arguments, " ")); show(); ce.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", show);
  window.addEventListener("load", function () {
    document.body.setAttribute("data-plots-rendered", document.querySelectorAll(".js-plotly-plot").length);
  });
})();
</script>"""

_STYLE = """<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em auto; max-width: 1200px;
       color: #1d2430; padding: 0 1em; }
h1 { font-size: 1.6em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #d7dbe2; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: .9em; margin: .6em 0; }
th, td { border: 1px solid #d7dbe2; padding: .25em .6em; text-align: right; }
th { background: #f1f3f6; } td:first-child, th:first-child { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 12px; } .cell { flex: 0 0 auto; }
.warn { background: #fff4e0; border-left: 4px solid #e69500; padding: .4em .8em; margin: .6em 0; }
.note { color: #59606b; font-size: .9em; }
#console-errors { display: none; background: #fde8e8; color: #8a1c1c; padding: .5em; }
img { max-width: 100%; }
</style>"""


class HtmlReport:
    """Sections of one self-contained HTML page; :meth:`write` embeds plotly.js once."""

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []
        self._n_plots = 0

    def heading(self, text: str, level: int = 2) -> HtmlReport:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str, cls: str | None = None) -> HtmlReport:
        """A paragraph of plain text (escaped); ``cls``: ``"warn"`` or ``"note"`` for a styled box."""
        attr = f' class="{cls}"' if cls else ""
        self._parts.append(f"<p{attr}>{html.escape(text)}</p>")
        return self

    def bullets(self, items) -> HtmlReport:
        self._parts.append("<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>")
        return self

    def table(self, header, rows) -> HtmlReport:
        """A table of ``rows`` (lists of cells: numbers are shown with 5 significant digits)."""
        def cell(v):
            if isinstance(v, bool) or v is None:
                return html.escape(str(v if v is not None else ""))
            if isinstance(v, (int, np.integer)):
                return str(int(v))
            if isinstance(v, (float, np.floating)):
                return f"{float(v):.5g}"
            return html.escape(str(v))
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return self

    def image(self, path: str | Path, alt: str = "") -> HtmlReport:
        """A PNG embedded as a data URI (the page stays one file)."""
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        self._parts.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">')
        return self

    def figures(self, figs, height: int = 420, row_width: int = 1140) -> HtmlReport:
        """Plotly figures side by side (a row that wraps), each of a fixed size (WebGL scenes size
        themselves once, when drawn: a fixed size keeps them in their cell)."""
        cells = []
        width = max(320, row_width // max(1, len(figs)) - 12)
        for fig in figs:
            fig.update_layout(height=height, width=width, autosize=False)
            div = fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False},
                              div_id=f"plot-{self._n_plots}")
            self._n_plots += 1
            cells.append(f'<div class="cell">{div}</div>')
        self._parts.append('<div class="row">' + "".join(cells) + "</div>")
        return self

    def raw(self, fragment: str) -> HtmlReport:
        """An HTML fragment, as is (the caller escapes what it puts in)."""
        self._parts.append(fragment)
        return self

    def render(self) -> str:
        from plotly.offline import get_plotlyjs

        js = f'<script type="text/javascript">{get_plotlyjs()}</script>' if self._n_plots else ""
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + _ERROR_HOOK
                + f"<title>{html.escape(self.title)}</title>{_STYLE}{js}</head>\n<body>"
                + f"<h1>{html.escape(self.title)}</h1><pre id=\"console-errors\"></pre>\n"
                + "\n".join(self._parts) + "\n</body></html>\n")

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


# ---------------------------------------------------------------------- figures
def frame_figure(frame: PeriodicFrame, tessellate=(1, 1, 1), title: str | None = None):
    """Rotatable 3D view of a frame (unit cell or a block of ``tessellate`` cells)."""
    from trussvae.viz.truss3d import plotly_frame

    fig = plotly_frame(frame, tessellate=tessellate, title=title)
    fig.update_layout(scene=dict(aspectmode="data", xaxis_title="x", yaxis_title="y", zaxis_title="z"))
    return fig


def elastic_surface_figure(C, title: str | None = None, n_theta: int = 30, n_phi: int = 60):
    """Directional Young's modulus surface E(d) d of a (6, 6) stiffness, coloured by E(d)."""
    import plotly.graph_objects as go

    pts, vals = el.elastic_surface(np.asarray(C, dtype=np.float64), n_theta, n_phi)
    fig = go.Figure(go.Surface(x=pts[..., 0], y=pts[..., 1], z=pts[..., 2], surfacecolor=vals,
                               colorscale="Viridis", colorbar=dict(title="E(d)/E_s", len=0.7)))
    fig.update_layout(title=title, scene=dict(aspectmode="data"), margin=dict(l=0, r=0, t=30 if title else 0, b=0))
    return fig


def curve_figure(strain, curves: dict, title: str | None = None):
    """Stress-strain curves; ``curves`` maps a label to stresses (``"target"`` is drawn dashed)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    styles = {"target": dict(color="black", dash="dash"), "prediction": dict(color="#1f77b4", dash="dot"),
              "FE": dict(color="#d62728")}
    for name, y in curves.items():
        if y is None:
            continue
        fig.add_trace(go.Scatter(x=list(strain), y=list(np.asarray(y, dtype=float)), name=name,
                                 mode="lines+markers", line=styles.get(name, {})))
    fig.update_layout(title=title, xaxis_title="compressive strain", yaxis_title="stress / E_s",
                      margin=dict(l=50, r=10, t=40 if title else 10, b=40), legend=dict(x=0.02, y=0.98))
    return fig


def property_space_figure(space: dict):
    """The optimisation path in property space against the training cloud.

    ``space``: ``x_name``, ``y_name``, ``train_x``, ``train_y`` (the cloud), optional ``path_x``,
    ``path_y`` (the predicted path of the best latent candidate), ``fe_x``, ``fe_y`` (FE-verified
    candidates, best first).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=space["train_x"], y=space["train_y"], mode="markers", name="training data",
                               marker=dict(size=3, color="#b0b6bf")))
    if space.get("path_x") is not None and len(space["path_x"]):
        fig.add_trace(go.Scatter(x=space["path_x"], y=space["path_y"], mode="lines+markers", name="optimisation "
                                 "path (predicted)", line=dict(color="#1f77b4"), marker=dict(size=3)))
    if space.get("fe_x") is not None and len(space["fe_x"]):
        fig.add_trace(go.Scatter(x=space["fe_x"], y=space["fe_y"], mode="markers", name="FE-verified candidates",
                                 marker=dict(size=7, color="#d62728")))
        fig.add_trace(go.Scatter(x=space["fe_x"][:1], y=space["fe_y"][:1], mode="markers", name="best (FE)",
                                 marker=dict(size=16, symbol="star", color="gold", line=dict(color="black", width=1))))
    fig.update_layout(xaxis_title=space["x_name"], yaxis_title=space["y_name"], margin=dict(l=50, r=10, t=10, b=40))
    return fig


# ---------------------------------------------------------------------- design runs
def mechanism_warning(C, floor: float = MECHANISM_STIFFNESS) -> str | None:
    """A warning if a stiffness is close to a mechanism (a Young's or shear modulus below ``floor``)."""
    C = np.asarray(C, dtype=np.float64)
    if not np.all(np.isfinite(C)):
        return "FE stiffness is not finite"
    if np.linalg.eigvalsh(0.5 * (C + C.T)).min() <= 0:
        return "the stiffness is not positive definite: the lattice is a mechanism"
    E, G = el.youngs_moduli(C), el.shear_moduli(C)
    low = [f"E{i + 1}{i + 1} = {v:.2g}" for i, v in enumerate(E) if v < floor]
    low += [f"G{n} = {v:.2g}" for n, v in zip(("23", "13", "12"), G) if v < floor]
    if low:
        return (f"close to a mechanism ({', '.join(low)} < {floor:g} E_s): the design carries almost no load in "
                "that mode; raise the stiffness floors of the target")
    return None


def _candidate(c: dict) -> dict:
    return json.loads(Path(c["json"]).read_text())


def design_report(results: dict, report: HtmlReport | None = None, n_best: int = 3,
                  property_space: dict | None = None, tessellation=(2, 2, 2),
                  predicted_curves: dict | None = None) -> HtmlReport:
    """Add the sections of a design run (``results``: the run's results.json) to ``report``.

    ``property_space``: see :func:`property_space_figure` (computed by the caller, which knows the
    target's quantities). ``predicted_curves``: rank -> predicted stress curve (curve targets), when the
    candidate records do not carry one.
    """
    report = report or HtmlReport(f"Inverse design: {results['target']}")
    fe = results.get("fe") or {}
    curve = "target_curve" in results
    report.heading("Summary")
    items = [f"objective: {results['sense']} {results['target']} (FE-verified"
             + (f", relative density {fe['relative_density']}" if "relative_density" in fe else "") + ")",
             f"best value in the training data: {results['best_training_value']:.5g}"]
    if results.get("best_fe_value") is not None:
        items.append(f"best FE-verified design: {results['best_fe_value']:.5g}")
    if results.get("best_latent_value") is not None:
        items.append("best FE-verified decode of the latent search (before polish): "
                     f"{results['best_latent_value']:.5g}")
    if results.get("improvement_over_training") is not None:
        items.append(f"improvement over the training data: {100 * results['improvement_over_training']:+.1f}%")
    for key in ("checkpoint", "data_dir"):
        if results.get(key):
            items.append(f"{key}: {results[key]}")
    report.bullets(items)
    cands = results.get("candidates") or []
    if not cands:
        report.paragraph("No valid candidate was found.", cls="warn")
        return report
    header = ["rank", "FE value", "predicted", "origin", "feasible", "novel", "repaired"]
    have = cands[0].get("moduli") or {}
    moduli_keys = [k for k in ("E11", "E22", "E33", "nu21", "K_V", "G_V", "K_V/G_V") if k in have]
    report.heading("FE-verified candidates")
    report.table(header + moduli_keys,
                 [[c["rank"], c["fe_value"], c.get("predicted_value"), c.get("origin", "latent"), c.get("feasible"),
                   c.get("novel"), c.get("repaired")] + [c["moduli"][k] for k in moduli_keys] for c in cands[:10]])
    for c in cands[:n_best]:
        rec = _candidate(c)
        frame = PeriodicFrame.from_dict(rec["frame"])
        pred = c.get("predicted_value")
        report.heading(f"Candidate #{c['rank']}: FE {c['fe_value']:.5g}"
                       + (f" (predicted {pred:.5g})" if pred is not None else ""))
        if not curve:
            warn = mechanism_warning(rec["fe"]["stiffness_voigt"])
            if warn:
                report.paragraph(f"Warning: {warn}.", cls="warn")
        files = [f"{k}: {Path(c[k]).name}" for k in ("json", "stl", "abaqus") if c.get(k)]
        report.paragraph(f"{frame.n_struts} struts in the unit cell, strut radius {float(frame.radii()[0]):.4g}; "
                         + "; ".join(files), cls="note")
        figs = [frame_figure(frame, title="unit cell"),
                frame_figure(frame, tessellate=tuple(tessellation), title="printable block "
                             + "x".join(str(t) for t in tessellation))]
        if curve:
            pred_curve = c.get("predicted_curve") or (predicted_curves or {}).get(c["rank"])
            figs.append(curve_figure(results["strain"], {"target": results["target_curve"], "prediction": pred_curve,
                                                         "FE": rec["fe"]["stress"]}, title="stress-strain"))
        else:
            figs.append(elastic_surface_figure(rec["fe"]["stiffness_voigt"], title="elastic surface E(d)"))
        report.figures(figs, height=380)
    if property_space is not None:
        report.heading("Optimisation path in property space")
        report.figures([property_space_figure(property_space)], height=480)
    return report


def write_design_html(out_dir: str | Path, results: dict | None = None, **kwargs) -> Path:
    """``report.html`` of a design run folder (``results`` default: its results.json)."""
    out = Path(out_dir)
    results = results if results is not None else json.loads((out / "results.json").read_text())
    return design_report(results, **kwargs).write(out / "report.html")
