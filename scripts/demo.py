"""`make demo`: the whole pipeline end to end on a small embedded default, in a few minutes.

1. build and FE-label a small data set          (python homogenize.py ...)
2. train the VAE briefly                           (python train.py ...)
3. design an auxetic lattice, verified by FE       (python design.py target=auxetic ...)
4. explore the latent space (interpolation sheet)
5. write outputs/demo/report.md and outputs/demo/report.html (one self-contained interactive page:
   the data set, the training metrics, the design with rotatable 3D cells, the interpolation) and
   print where they are

Every step is a real run of the entry points with small settings; nothing is precomputed.
Set DEMO_N / DEMO_EPOCHS to change the size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "outputs" / "demo"
N = int(os.environ.get("DEMO_N", "6000"))
EPOCHS = int(os.environ.get("DEMO_EPOCHS", "40"))


def run(step: str, *args: str) -> float:
    print(f"\n=== {step}: python {' '.join(args)}", flush=True)
    t0 = time.time()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)
    return time.time() - t0


def explore(ckpt: str, data_dir: Path, out: Path) -> str:
    from trussvae.design.latent import evaluate_path, interpolate, path_figure
    from trussvae.io import LatticeStore
    from trussvae.models import load_network

    model = load_network(ckpt)[0]
    store = LatticeStore(data_dir)
    E11 = store.load_labels("linear")["stiffness"][:, 0, 0]
    lo, hi = int(E11.argmin()), int(E11.argmax())
    a, b = store.graphs([lo, hi])
    path = evaluate_path(interpolate(model, a, b, n=7, method="slerp"))
    path_figure(path, out / "interpolation.png", quantity="E11")
    return f"{int(path.valid.sum())}/{len(path.valid)} raw-valid decodes along the slerp path"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data, train_dir, design_dir = OUT / "data", OUT / "train", OUT / "design"
    times = {}
    times["data"] = run("1/4 data set", "homogenize.py", f"n={N}", f"out={data}", "chunk_size=1000",
                        f"hydra.run.dir={OUT / 'homogenize'}")
    times["train"] = run("2/4 train", "train.py", f"data.data_dir={data}", f"trainer.max_epochs={EPOCHS}",
                         "logger=csv", f"hydra.run.dir={train_dir}")
    times["design"] = run("3/4 design", "design.py", "target=auxetic", f"train_run={train_dir}",
                          "search.n_starts=50", "search.n_steps=100", f"hydra.run.dir={design_dir}")
    metrics = json.loads((train_dir / "metrics.json").read_text())
    print("\n=== 4/4 latent exploration", flush=True)
    explored = explore(metrics["best_checkpoint"], data, OUT)
    results = json.loads((design_dir / "results.json").read_text())
    best = results["candidates"][0]
    meta = json.loads((data / "meta.json").read_text())
    lines = [
        "# trussvae demo report", "",
        f"Small end-to-end run ({N} structures, {EPOCHS} epochs); a demonstration, not the paper's scale.", "",
        "## 1. Data set", "",
        f"- `{data}`: {N} unique valid lattices, linear FE labels at relative density 0.15 "
        f"({meta['labels']['linear'].get('n_failed', 0)} FE failures), {times['data']:.0f} s",
        f"- generator rejections: `{meta.get('rejections')}`", "",
        "## 2. VAE (test split)", "",
        f"- adjacency accuracy {metrics['test/adjacency_accuracy']:.4f}, exact topology "
        f"{metrics['test/exact_topology_fraction']:.3f}",
        f"- node R^2 x/y/z {metrics['test/node_r2_x']:.3f} / {metrics['test/node_r2_y']:.3f} / "
        f"{metrics['test/node_r2_z']:.3f}",
        f"- property R^2 min {metrics['test/property_r2_min']:.3f}; validity raw {metrics['validity/raw']:.3f}, "
        f"repaired {metrics['validity/repaired']:.3f}, novel+unique {metrics['validity/novel_unique']:.3f}",
        f"- checkpoint `{metrics['best_checkpoint']}`, {times['train']:.0f} s", "",
        "## 3. Inverse design: auxetic (minimise nu21), FE-verified", "",
        f"- best nu21 in the training data {results['best_training_value']:.4f}; best FE-verified design "
        f"{best['fe_value']:.4f} (predictor said {best['predicted_value']:.4f}), {times['design']:.0f} s",
        f"- full report: [{design_dir / 'report.md'}](design/report.md); STL: `{best.get('stl')}`", "",
        "![design path](design/optimisation_path.png)", "", "![best designs](design/best_candidates.png)", "",
        "## 4. Latent interpolation (slerp between the softest and stiffest E11 in the data)", "",
        f"- {explored}", "", "![interpolation](interpolation.png)", "",
    ]
    report = OUT / "report.md"
    report.write_text("\n".join(lines))
    page = html_report(data, meta, metrics, results, design_dir, explored, times)
    print(f"\nDemo finished. Report: {report}\nInteractive report (open in a browser): {page}")


def html_report(data: Path, meta: dict, metrics: dict, results: dict, design_dir: Path, explored: str,
                times: dict) -> Path:
    """outputs/demo/report.html: the data set, the training metrics, the design run (the sections of
    its own report.html) and the latent interpolation, in one self-contained page."""
    from trussvae.viz.html_report import HtmlReport, design_report

    page = HtmlReport("trussvae demo")
    page.paragraph(f"Small end-to-end run ({N} structures, {EPOCHS} epochs); a demonstration, not the paper's "
                   "scale. Every number is computed by this run.", cls="note")
    page.heading("1. Data set")
    page.bullets([f"{data}: {N} unique valid lattices, linear FE labels at relative density "
                  f"{meta['labels']['linear']['fe']['relative_density']} "
                  f"({meta['labels']['linear'].get('n_failed', 0)} FE failures), {times['data']:.0f} s",
                  f"generator rejections: {meta.get('rejections')}"])
    page.heading("2. VAE (test split)")
    keys = [("adjacency accuracy", "test/adjacency_accuracy"), ("exact topology", "test/exact_topology_fraction"),
            ("node R^2 x", "test/node_r2_x"), ("node R^2 y", "test/node_r2_y"), ("node R^2 z", "test/node_r2_z"),
            ("property R^2 (min of 9)", "test/property_r2_min"), ("validity, raw decodes", "validity/raw"),
            ("validity, repaired", "validity/repaired"), ("novel and unique", "validity/novel_unique")]
    page.table(["metric", "value"], [[name, metrics[k]] for name, k in keys if k in metrics])
    page.paragraph(f"checkpoint {metrics['best_checkpoint']}, {times['train']:.0f} s", cls="note")
    page.heading("3. Inverse design: auxetic (minimise nu21 with E11, E22 >= 0.002), FE-verified")
    page.paragraph(f"{times['design']:.0f} s; the run's own pages: {design_dir / 'report.html'}, "
                   f"{design_dir / 'report.md'}", cls="note")
    design_report(results, report=page)
    for name in ("optimisation_path", "property_space"):
        if (design_dir / f"{name}.png").is_file():
            page.image(design_dir / f"{name}.png", alt=name.replace("_", " "))
    page.heading("4. Latent interpolation (slerp between the softest and stiffest E11 in the data)")
    page.paragraph(f"{explored}; invalid decodes are drawn faded with their reason, the repaired truss beside.")
    page.image(OUT / "interpolation.png", alt="latent interpolation")
    return page.write(OUT / "report.html")


if __name__ == "__main__":
    main()
