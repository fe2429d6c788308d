"""The supervisor `job create` starts before its run exists (engine.runs.standby): it takes the
run, a failed create leaves no process behind, and a standby that died is replaced. Real
processes throughout."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs import standby
from engine.runs.files import RunFiles


def standbys_of(ws: Path) -> list[psutil.Process]:
    """The standby supervisors started for workspace `ws` that are still alive."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(a.startswith(standby.STANDBY_ARG) for a in proc.info["cmdline"] or []) \
                    and proc.environ().get("TRAINYARD_WORKSPACE") == str(ws) and proc.status() != "zombie":
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def test_job_create_hands_its_run_to_the_supervisor_it_started_first(ws_dir: Path, project, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"first.py": "print('first line', flush=True)\n",
                    "job.yml": "code: .\ncommand: python first.py\n"})
    done = cli("job", "create", "-f", str(code / "job.yml"), "--stream")
    assert done.returncode == 0, done.stderr
    assert "first line" in done.stdout
    eng = Engine.open(ws_dir)
    run = eng.list_runs()[0]
    assert run.status == "Completed"
    # The process that owned the run was running before the run was recorded.
    started = eng.store.supervisor_started(run.name)
    assert started is not None and started < run.created_at, (started, run.created_at)
    # It wrote where a supervisor writes: the run's supervisor.log.
    log = RunFiles(Path(run.run_dir)).supervisor_log.read_text()
    assert "started:" in log and "ended: Completed" in log


def test_a_create_that_fails_leaves_no_standby_running(ws_dir: Path, project, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"first.py": "print('first line')\n", "job.yml": "code: .\ncommand: python first.py\ncompute: nope\n"})
    done = cli("job", "create", "-f", str(code / "job.yml"), "--stream")
    assert done.returncode == 1
    assert "unknown compute target 'nope'" in done.stderr
    deadline = time.monotonic() + 20  # it finishes its imports, then sees the CLI gone
    while standbys_of(ws_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert standbys_of(ws_dir) == []
    assert Engine.open(ws_dir).list_runs() == []


def test_the_standby_takes_the_next_run_and_a_dead_one_is_replaced(eng: Engine, ws_dir: Path, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"hello.py": "import os\nprint('hello from', os.getpid(), flush=True)\n"})
    standby.start()
    (waiting,) = standbys_of(ws_dir)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="hello.py"))
    assert run.supervisor_pid == waiting.pid
    assert eng.wait(run.name, timeout=60).status == "Completed"
    assert "hello from" in RunFiles(Path(run.run_dir)).driver_log.read_text()
    waiting.wait(30)  # it is the run's supervisor: it leaves once the run is done

    # One that died before the run came: the run gets a supervisor of its own.
    standby.start()
    (dead,) = standbys_of(ws_dir)
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait(10)
    again = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="hello.py"))
    assert again.supervisor_pid not in (None, dead.pid)
    assert eng.wait(again.name, timeout=60).status == "Completed"
    assert "hello from" in RunFiles(Path(again.run_dir)).driver_log.read_text()
