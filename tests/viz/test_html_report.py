"""The interactive HTML report: content, self-containment and a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from trussvae.fem import homogenize
from trussvae.fem.properties import effective_properties
from trussvae.generation import elementary
from trussvae.viz.html_report import HtmlReport, design_report, mechanism_warning, write_design_html

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _design_run(tmp_path, names=("octet", "bcc", "simple_cubic"), rho=(0.15, 0.15, 0.01)) -> dict:
    """A design-run folder as trussvae.design.run writes it (results.json + candidate JSONs)."""
    (tmp_path / "candidates").mkdir()
    rows = []
    for rank, (name, r) in enumerate(zip(names, rho)):
        g = elementary(name)
        frame = g.to_frame(relative_density=r)
        C = homogenize(frame)
        props = effective_properties(C, r)
        path = tmp_path / "candidates" / f"cand_{rank:03d}.json"
        path.write_text(json.dumps({"truss_graph": g.to_dict(), "frame": frame.to_dict(),
                                    "fe": {"stiffness_voigt": C.tolist(), "properties": props}}))
        rows.append({"rank": rank, "fe_value": float(C[1, 1]), "predicted_value": float(C[1, 1]) * 1.1,
                     "feasible": True, "repaired": False, "origin": "latent", "novel": True, "json": str(path),
                     "moduli": props})
    results = {"target": "stiff", "sense": "maximize", "best_training_value": 0.02,
               "best_fe_value": rows[0]["fe_value"], "improvement_over_training": 0.5,
               "n_candidates": len(rows), "candidates": rows, "fe": {"relative_density": 0.15}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    return results


def test_mechanism_warning():
    assert mechanism_warning(homogenize(elementary("octet").to_frame(relative_density=0.15))) is None
    sc = elementary("simple_cubic")
    assert mechanism_warning(homogenize(sc.to_frame(relative_density=0.15))) is None  # G = 1.0e-3: bending
    warn = mechanism_warning(homogenize(sc.to_frame(relative_density=0.01)))  # G ~ rho^2: 5e-6
    assert warn is not None and "G23" in warn and "E11" not in warn
    assert "not positive definite" in mechanism_warning(np.diag([1.0, 1, 1, 1, 1, 0]))
    assert "not finite" in mechanism_warning(np.full((6, 6), np.nan))


def test_design_report_content(tmp_path):
    _design_run(tmp_path)
    rng = np.random.default_rng(0)
    space = {"x_name": "E22", "y_name": "E11", "train_x": rng.random(50), "train_y": rng.random(50),
             "path_x": [0.1, 0.2], "path_y": [0.1, 0.15], "fe_x": [0.2], "fe_y": [0.15]}
    path = write_design_html(tmp_path, property_space=space)
    text = path.read_text()
    assert path.name == "report.html"
    assert "<script src=" not in text  # no external resource: plotly.js is embedded
    assert "plotly" in text.lower() and text.count('class="cell"') == 3 * 3 + 1
    assert "Candidate #0" in text and "Candidate #2" in text and "close to a mechanism" in text
    assert text.count("<tr>") == 1 + 3  # header + 3 candidates in the table


def test_report_escapes_and_empty(tmp_path):
    r = HtmlReport("a <b> title").paragraph("x < y & z").table(["k"], [["<i>"]])
    text = r.render()
    assert "a &lt;b&gt; title" in text and "x &lt; y &amp; z" in text and "&lt;i&gt;" in text
    assert "get_plotlyjs" not in text and "Plotly.newPlot" not in text  # no figures: no plotly.js
    empty = design_report({"target": "stiff", "sense": "maximize", "best_training_value": 1.0, "candidates": []})
    assert "No valid candidate" in empty.render()


def _browser():
    for b in BROWSERS:
        if shutil.which(b):
            return shutil.which(b)
    pytest.skip("no headless Chromium on this machine (make test installs it: `make browser`)")


def _run_browser(exe, tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-unsafe-swiftshader", "--use-angle=swiftshader", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=15000"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_in_headless_browser(tmp_path):
    """The page loads in Chromium without console errors, renders every plot, and shows the lattice."""
    exe = _browser()
    _design_run(tmp_path)
    page = write_design_html(tmp_path).resolve()
    dom = _run_browser(exe, tmp_path, "--dump-dom", page.as_uri()).stdout
    errors = re.search(r'<pre id="console-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == "", errors.group(1) if errors else dom[:500]
    rendered = re.search(r'data-plots-rendered="(\d+)"', dom)
    assert rendered is not None and int(rendered.group(1)) == 9
    assert dom.count("gl-container") >= 9  # every 3D scene got a WebGL canvas
    shot = tmp_path / "shot.png"
    _run_browser(exe, tmp_path, "--window-size=1300,1400", f"--screenshot={shot}", page.as_uri())
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    strut = np.array([0x30, 0x40, 0x5A])  # the lattice colour of trussvae.viz.truss3d.plotly_frame
    near = np.abs(img - strut).sum(axis=-1) < 40
    assert near.sum() > 2000, "the screenshot shows no lattice struts"
