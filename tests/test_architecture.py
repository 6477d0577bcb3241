"""The architecture rules of docs/architecture.md: the import contracts (.importlinter: layers, no
cycles) hold, and no module imports another module's private (leading-underscore) name."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"



def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(src: Path = SRC) -> set[tuple[str, str, str]]:
    """(importing module, imported module, name) of every import of a private name or module
    from another module of the package under ``src``."""
    out = set()
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                if not target.startswith("trussvae"):
                    continue
                out |= {(module, target, a.name) for a in node.names if _private(a.name)}
                out |= {(module, target, "") for part in target.split(".") if _private(part)}
            elif isinstance(node, ast.Import):
                out |= {(module, a.name, "") for a in node.names
                        if a.name.startswith("trussvae") and any(_private(p) for p in a.name.split("."))}
    return {(m, t, n) for m, t, n in out if m != t}


def test_no_private_name_is_imported_across_modules():
    found = sorted(private_imports())
    assert not found, ("private names imported from another module (make them public in their home "
                       f"module, or move the code): {found}")


def test_private_import_scan_sees_absolute_and_relative_imports(tmp_path):
    pkg = tmp_path / "trussvae" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "trussvae" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from trussvae.sub.a import public\n")
    (pkg / "a.py").write_text("public = 1\n_hidden = 2\n")
    (pkg / "b.py").write_text("from trussvae.sub.a import _hidden, public\nfrom . import a\n")
    (pkg / "c.py").write_text("from .a import _hidden as h\nimport trussvae.sub._impl\n")
    assert private_imports(tmp_path) == {("trussvae.sub.b", "trussvae.sub.a", "_hidden"),
                                         ("trussvae.sub.c", "trussvae.sub.a", "_hidden"),
                                         ("trussvae.sub.c", "trussvae.sub._impl", "")}


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports not found: install the dev extras (pip install -e '.[dev]')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([exe, "--no-cache", "--no-logo", str(ROOT / ".importlinter")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout, run.stdout
