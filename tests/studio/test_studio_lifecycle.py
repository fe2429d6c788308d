"""Runs belong to their supervisors: killing or closing the studio never stops them, and a studio
opened again shows them live."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def logged_points(engine, name: str) -> int:
    driver = Path(engine.get_run(name).run_dir) / "azureml-logs" / "70_driver_log.txt"
    found = re.search(r"logged (\d+) points", driver.read_text())
    assert found, driver.read_text()[-2000:]
    return int(found.group(1))


def until(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def studio_reads_the_store(studio: subprocess.Popen, workspace: Path) -> bool:
    """The studio process has the workspace's store open (it polls it for the run it shows)."""
    try:
        return any(Path(f.path).name == "store.db" and Path(f.path).is_relative_to(workspace.resolve())
                   for f in psutil.Process(studio.pid).open_files())
    except psutil.Error:
        return False


def test_killing_the_studio_process_does_not_stop_or_lose_a_run(engine, workspace, submit, tmp_path: Path):
    release = tmp_path / "release"
    name = submit("--hold", str(release))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    studio = subprocess.Popen([sys.executable, "-m", "studio.app", "-w", str(workspace), "--run", name,
                               "--page", "run-metrics"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until(lambda: engine.get_run(name).status == "Running")
        until(lambda: studio_reads_the_store(studio, workspace))  # the studio is up, watching the run
        assert studio.poll() is None, "the studio exited on its own"
        studio.send_signal(signal.SIGKILL)
        studio.wait(10)
    finally:
        if studio.poll() is None:
            studio.kill()
    run = engine.get_run(name)
    assert run.status == "Running"
    assert psutil.pid_exists(run.supervisor_pid)
    streamed = len(engine.metric_history(name, "loss"))
    until(lambda: len(engine.metric_history(name, "loss")) > streamed + 10)  # streaming with no studio at all
    release.write_text("")
    final = engine.wait(name, timeout=60)
    assert final.status == "Completed"
    assert len(engine.metric_history(name, "loss")) == logged_points(engine, name)


def test_closing_and_reopening_the_window_shows_the_run_live(qtbot, engine, submit, tmp_path: Path):
    from studio import tasks
    from studio.mainwindow import MainWindow

    release = tmp_path / "release"
    name = submit("--hold", str(release))
    first = MainWindow(engine, restore=False, poll_ms=100)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitUntil(lambda: (r := first.runs_model.get(name)) is not None and r.status == "Running",
                    timeout=30_000)
    first.close()
    tasks.wait_all()
    # With no window at all the run goes on: more points arrive.
    streamed = len(engine.metric_history(name, "loss"))
    until(lambda: len(engine.metric_history(name, "loss")) > streamed + 10)
    assert engine.get_run(name).status == "Running"

    again = MainWindow(engine, restore=False, poll_ms=100)
    qtbot.addWidget(again)
    again.show()
    try:
        qtbot.waitUntil(lambda: (r := again.runs_model.get(name)) is not None and r.status == "Running",
                        timeout=10_000)
        detail = again.show_run(name)
        detail.show_tab("metrics")
        qtbot.waitUntil(lambda: "loss" in detail.metrics.plots and detail.metrics.plots["loss"].point_count() > 0,
                        timeout=10_000)
        before = detail.metrics.plots["loss"].point_count()
        qtbot.waitUntil(lambda: detail.metrics.plots["loss"].point_count() > before + 10, timeout=10_000)
        release.write_text("")
        qtbot.waitUntil(lambda: again.runs_model.get(name).status == "Completed", timeout=30_000)
        total = logged_points(engine, name)
        qtbot.waitUntil(lambda: detail.metrics.plots["loss"].point_count() == total, timeout=10_000)
    finally:
        again.shutdown()
        tasks.wait_all()
