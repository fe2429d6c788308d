"""packaging/: the PyInstaller spec builds a bundle that runs, and the desktop entry is valid.

Slow (the build takes a minute or two); PyInstaller is installed into the venv when missing.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def test_desktop_entry_launches_trainyard_and_handles_its_links() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(PACKAGING / "trainyard.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == "trainyard %U"
    assert desktop["Icon"] == "trainyard"
    assert desktop["Categories"] == "Development;Science;"
    assert "x-scheme-handler/trainyard" in desktop["MimeType"].split(";")
    validate = shutil.which("desktop-file-validate")
    if validate is not None:  # Debian package desktop-file-utils (./test.sh installs it)
        result = subprocess.run([validate, str(PACKAGING / "trainyard.desktop")], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "error" not in result.stdout.lower(), result.stdout


def _pyinstaller() -> Path:
    exe = Path(sys.executable).with_name("pyinstaller")
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyinstaller>=6"], check=True)
    return exe


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_bundle_builds_and_runs_the_cli_and_the_studio(tmp_path: Path) -> None:
    build = subprocess.run(
        [str(_pyinstaller()), "--noconfirm", "--log-level", "WARN", "--distpath", str(tmp_path / "dist"),
         "--workpath", str(tmp_path / "build"), str(PACKAGING / "trainyard.spec")],
        cwd=tmp_path, capture_output=True, text=True, timeout=1500, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    bundle = tmp_path / "dist" / "trainyard"
    exe = bundle / "trainyard"
    assert exe.is_file() and os.access(exe, os.X_OK)
    # Files the engine reads beside its code made it into the bundle.
    internal = bundle / "_internal"
    assert (internal / "engine" / "tracking" / "inject" / "azureml").is_dir()
    assert (internal / "resources" / "icons" / "trainyard.svg").is_file()
    assert any((internal / "resources" / "environments").iterdir())

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRAINYARD_WORKSPACE")}
    env["QT_QPA_PLATFORM"] = "offscreen"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # From a folder away from the sources, so nothing can be imported from the checkout.
        return subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    version = run("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "trainyard, version 0.1.0"

    ws = tmp_path / "ws"
    jobs = run("-w", str(ws), "job", "list")
    assert jobs.returncode == 0, jobs.stderr
    assert "No jobs yet" in jobs.stdout
    envs = run("-w", str(ws), "environment", "list")
    assert envs.returncode == 0, envs.stderr
    assert "trainyard-python" in envs.stdout  # the curated environments shipped in the bundle

    shot = tmp_path / "runs.png"
    studio = run("-w", str(ws), "--screenshot", str(shot), "--page", "runs")
    assert studio.returncode == 0, studio.stderr
    image = QImage(str(shot))
    assert image.size() == QSize(1280, 800)

    # The bundle runs jobs: its own executable is each run's supervisor, and the script runs with
    # the machine's python3 and logs through the tracking client shipped inside the bundle.
    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.py").write_text(
        "from azureml.core import Run\n"
        "run = Run.get_context()\n"
        "for i in range(5):\n"
        "    run.log('loss', 1.0 / (i + 1))\n"
        "print('hello from the bundle', flush=True)\n")
    (project / "job.yml").write_text("command: python hello.py\ncode: .\nexperiment_name: bundled\n")
    job = run("-w", str(ws), "job", "create", "-f", str(project / "job.yml"), "--name", "bundled_run_1", "--stream")
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    assert "hello from the bundle" in job.stdout
    metrics = run("-w", str(ws), "job", "metrics", "-n", "bundled_run_1", "--metric", "loss", "-o", "json")
    assert metrics.returncode == 0, metrics.stderr
    assert [p["value"] for p in json.loads(metrics.stdout)] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
