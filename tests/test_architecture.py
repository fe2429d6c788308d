"""The engine stays headless and layered: checked by import-linter (no Qt; the layers of
docs/architecture.md) and by importing every engine module in a Python where PySide6 and pyqtgraph
cannot be imported at all."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK_QT_AND_IMPORT_ALL = r"""
import importlib, pkgutil, sys

class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "pyqtgraph", "studio"):
            raise ImportError(f"blocked: the engine imported {name}")
        return None

sys.meta_path.insert(0, BlockQt())
import engine
names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")
         if ".inject" not in m.name and ".migrations" not in m.name]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_import_linter_contract_holds() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "The engine never imports Qt or the studio KEPT" in res.stdout
    # The layers of docs/architecture.md (pyproject.toml): nothing imports upward, lazily or not.
    assert "The engine is layered: nothing imports upward KEPT" in res.stdout
    assert "No import cycles among the modules of a package KEPT" in res.stdout


def test_the_cycle_contract_catches_a_cycle_hidden_behind_type_checking(tmp_path: Path) -> None:
    """The contract of pyproject.toml, run on a package whose two modules import each other (one
    of them only for type checking, the way cycles hide): it is broken and names the import."""
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "target.py").write_text("from cyclic.route import open_route\n")
    (pkg / "route.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclic.target import Target\n"
    )
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["type"] == "acyclic_siblings"]
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = cyclic\n\n[importlinter:contract:cycles]\n"
        f"name = {contract['name']}\ntype = acyclic_siblings\nancestors = cyclic\n"
    )
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint)], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert res.returncode != 0, res.stdout
    assert f"{contract['name']} BROKEN" in res.stdout
    assert "No cycles are allowed in cyclic" in res.stdout


def test_every_engine_module_imports_without_qt() -> None:
    res = subprocess.run([sys.executable, "-c", BLOCK_QT_AND_IMPORT_ALL], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip()) > 20


def test_in_run_client_is_standard_library_only() -> None:
    """The injected client must import in a bare interpreter: no site-packages, no engine. (Its
    sitecustomize is imported first, as `site` would; trainyard_mlflow is only imported by a real
    MLflow, so it is not part of this.)"""
    inject = ROOT / "engine" / "tracking" / "inject"
    code = ("import sitecustomize; from azureml.core import Run; import trainyard_run; import mlflow, mlflow.sklearn, mlflow.pytorch; "
            "print(type(Run.get_context()).__name__)")
    res = subprocess.run([sys.executable, "-S", "-c", code], cwd="/", capture_output=True, text=True,
                         env={"PYTHONPATH": str(inject), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
