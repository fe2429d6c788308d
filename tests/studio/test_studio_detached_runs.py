"""A run the studio launched belongs to its supervisor, not to the studio: killing the studio's
process group (SIGKILL), or closing the terminal it was started from (the kernel's SIGHUP), never
stops the run, and every point the script logged arrives. The studio here is a real process that
submits through its Submit dialog (tests/studio/studio_submitter.py)."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.api import Engine

ROOT = Path(__file__).resolve().parents[2]
SUBMITTER = Path(__file__).with_name("studio_submitter.py")


def _logged_points(engine: Engine, name: str) -> int:
    driver = Path(engine.get_run(name).run_dir) / "azureml-logs" / "70_driver_log.txt"
    found = re.search(r"logged (\d+) points", driver.read_text())
    assert found, driver.read_text()[-2000:]
    return int(found.group(1))


def _start_studio(workspace: Path, project: Path, release: Path, name_file: Path, log: Path,
                  terminal: int | None) -> subprocess.Popen[bytes]:
    """The studio as a session and process group leader, like a program started from a terminal;
    with `terminal` (a pty's slave) that pty is its controlling terminal."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(SUBMITTER), str(workspace), str(project), f"--hold {release}", str(name_file)]
    with open(log, "wb") as out:
        if terminal is None:
            return subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        # (studio_submitter.py makes it its controlling terminal: a preexec_fn is unsafe with threads.)
        return subprocess.Popen(args, cwd=ROOT, env={**env, "TAKE_TERMINAL": "1"}, stdin=terminal,
                                stdout=terminal, stderr=out, start_new_session=True)


def _wait_streaming(engine: Engine, studio: subprocess.Popen[bytes], name_file: Path, log: Path) -> str:
    """The run the studio submitted, once it runs and its points reach the store."""
    deadline = time.monotonic() + 90
    while not (name_file.exists() and name_file.read_text()):
        assert studio.poll() is None, f"the studio exited ({studio.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the studio submitted nothing:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
    name = name_file.read_text()
    while engine.get_run(name).status != "Running" or len(engine.metric_history(name, "loss")) < 5:
        assert time.monotonic() < deadline, engine.get_run(name).status
        time.sleep(0.05)
    return name


@pytest.mark.parametrize("how", ["SIGKILL to its process group", "SIGHUP from its closed terminal"])
def test_killing_the_studio_that_launched_a_run_neither_stops_it_nor_loses_a_point(
        engine: Engine, workspace: Path, project: Path, tmp_path: Path, how: str) -> None:
    release, name_file, log = tmp_path / "release", tmp_path / "run-name", tmp_path / "studio.log"
    master = slave = None
    if how.startswith("SIGHUP"):
        master, slave = pty.openpty()
    studio = _start_studio(workspace, project, release, name_file, log, slave)
    if slave is not None:
        os.close(slave)  # only the studio holds the terminal now
    try:
        name = _wait_streaming(engine, studio, name_file, log)
        supervisor = engine.get_run(name).supervisor_pid
        assert supervisor is not None and psutil.pid_exists(supervisor)
        if master is not None:
            # The terminal window closes: its master side goes away, the kernel hangs up the
            # terminal and sends SIGHUP to the session; a shell would also HUP its job's group.
            os.close(master)
            master = None
            os.killpg(studio.pid, signal.SIGHUP)
        else:
            os.killpg(studio.pid, signal.SIGKILL)
        code = studio.wait(15)
        assert code == -(signal.SIGHUP if how.startswith("SIGHUP") else signal.SIGKILL), code
    finally:
        if master is not None:
            os.close(master)
        if studio.poll() is None:
            studio.kill()
            studio.wait(10)
    run = engine.get_run(name)
    assert run.status == "Running", (run.status, run.error)
    assert psutil.pid_exists(supervisor)
    points = len(engine.metric_history(name, "loss"))
    deadline = time.monotonic() + 30
    while len(engine.metric_history(name, "loss")) <= points:  # still streaming with no studio at all
        assert time.monotonic() < deadline, "no point arrived after the studio died"
        time.sleep(0.05)
    release.write_text("")
    final = engine.wait(name, timeout=60)
    assert final.status == "Completed", final.error
    assert len(engine.metric_history(name, "loss")) == _logged_points(engine, name)
    assert (Path(final.run_dir) / "outputs" / "model.bin").stat().st_size == 1234
