"""Start the detached process that owns a run folder (engine.entry), and what a run folder needs
before its script starts: the code, the interpreter wrappers."""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from pathlib import Path

from engine.compute.procs import process_start_time
from engine.errors import LaunchFailed
from engine.runs import standby
from engine.runtime import INJECT_DIR, supervisor_command
from engine.runtime import host as runtime_host
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec
from engine.snapshots import SnapshotStore

# INJECT_DIR is re-exported for the supervisor and the tests.
__all__ = ["INJECT_DIR", "link_interpreter", "materialize_code", "start_supervisor", "this_host"]


def materialize_code(spec: LaunchSpec, wd: Path) -> None:
    """The run's code snapshot into `wd`; an empty `wd` without one."""
    if spec.snapshot_id:
        SnapshotStore(Path(spec.snapshots_root)).materialize(spec.snapshot_id, wd)
    else:
        wd.mkdir(parents=True, exist_ok=True)


def link_interpreter(files: RunFiles, interpreter: str) -> None:
    """`python` and `python3` on the run's PATH are the run's interpreter.

    Wrapper scripts, not symlinks: a venv's python finds its pyvenv.cfg next to the path it is
    started by, so a symlink elsewhere would silently run the base interpreter instead."""
    files.bin.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        wrapper = files.bin / name
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(interpreter)} "$@"\n')
        wrapper.chmod(0o755)


def start_supervisor(files: RunFiles) -> tuple[int, float | None]:
    """Start the supervisor in its own session, or give the run to this process's standby
    supervisor (engine.runs.standby); returns (pid, process start time)."""
    proc = standby.hand_over(files)
    if proc is None:
        proc = _start_process(files)
    # Reap it if we outlive it (the studio, an SDK session), so it leaves no zombie.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()
    return proc.pid, process_start_time(proc.pid)


def _start_process(files: RunFiles) -> subprocess.Popen[bytes]:
    try:
        with open(files.supervisor_log, "ab") as log:
            return subprocess.Popen(
                supervisor_command(str(files.root)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI / studio being killed
                close_fds=True,
                cwd=files.root,
            )
    except OSError as exc:
        raise LaunchFailed(f"could not start the run supervisor: {exc}",
                           f"check that {sys.executable} can run") from exc


def this_host() -> str:
    """This machine's name as runs record it (engine.runtime.host)."""
    return runtime_host.this_host()
