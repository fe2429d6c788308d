"""The studio on one machine of a team workspace (docs/team-workspace.md) shows a run another
machine submitted, live: its row, status, metric plot and driver log. Machine A is the real
`trainyard` CLI with TRAINYARD_HOST_ID=machine-a; the studio is machine B's, on its own
workspace folder; both share one real PostgreSQL store and one shared folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def _cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_the_studio_on_b_shows_a_run_of_machine_a_live(
    qtbot: Any,
    tmp_path: Path,
    fresh_postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    make_project: Callable[[Path], Path],
) -> None:
    from studio import tasks
    from studio.mainwindow import MainWindow

    shared = tmp_path / "nfs" / "trainyard"
    shared.mkdir(parents=True)
    project = make_project(tmp_path / "project")
    release = tmp_path / "release"
    env_a = {"TRAINYARD_HOST_ID": "machine-a", "TRAINYARD_WORKSPACE": str(tmp_path / "alice")}
    monkeypatch.setenv("TRAINYARD_HOST_ID", "machine-b")
    for folder in ("alice", "bob"):
        made = _cli(
            env_a,
            "init",
            str(tmp_path / folder),
            "--store-url",
            fresh_postgres_url,
            "--shared-dir",
            str(shared),
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
    job = project / "job.yml"
    job.write_text(
        f"command: python train.py --hold {release}\ncode: .\nexperiment_name: team\ncompute: local\n"
    )

    engine_b = Engine.open(tmp_path / "bob")
    window = MainWindow(engine_b, restore=False, poll_ms=100)
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    name = None
    try:
        qtbot.waitUntil(lambda: window.bridge.is_loaded, timeout=10_000)
        created = _cli(env_a, "job", "create", "-f", str(job), "-o", "json", cwd=project)
        assert created.returncode == 0, created.stderr
        name = json.loads(created.stdout)["name"]

        qtbot.waitUntil(
            lambda: (r := window.runs_model.get(name)) is not None and r.status == "Running", timeout=60_000
        )
        assert window.runs_model.get(name).properties["host"] == "machine-a"
        detail = window.show_run(name)
        # Where it runs: machine A's `local`, not this one's (the machine id stays out of the way).
        qtbot.waitUntil(lambda: detail.overview.values["compute"].text() == "local on machine-a", timeout=10_000)
        assert "machine-a" not in detail.overview.values["properties"].text()
        detail.show_tab("metrics")
        qtbot.waitUntil(
            lambda: "loss" in detail.metrics.plots and detail.metrics.plots["loss"].point_count() > 0,
            timeout=30_000,
        )
        before = detail.metrics.plots["loss"].point_count()
        qtbot.waitUntil(lambda: detail.metrics.plots["loss"].point_count() > before + 10, timeout=30_000)
        detail.show_tab("logs")
        qtbot.waitUntil(lambda: "hello from train.py" in detail.logs.text(), timeout=30_000)

        release.write_text("")
        qtbot.waitUntil(lambda: window.runs_model.get(name).status == "Completed", timeout=60_000)
        total = len(engine_b.metric_history(name, "loss"))
        detail.show_tab("metrics")
        qtbot.waitUntil(lambda: detail.metrics.plots["loss"].point_count() == total, timeout=30_000)
    finally:
        release.write_text("")
        window.shutdown()
        tasks.wait_all()
        if name is not None:
            engine_b.wait(name, timeout=60)
        engine_b.close()
