"""Start the detached supervisor of a local run."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import engine
from engine.errors import LaunchFailed
from engine.runs.files import RunFiles
from engine.runs.procs import process_start_time
from engine.runtime import supervisor_command

# The stdlib-only in-run client, put first on the run's PYTHONPATH.
INJECT_DIR = Path(engine.__file__).parent / "tracking" / "inject"
_ENGINE_ROOT = str(Path(engine.__file__).resolve().parent.parent)


def write_spec(files: RunFiles, spec: dict[str, Any]) -> None:
    tmp = files.spec.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec, indent=2))
    os.replace(tmp, files.spec)


def materialize_code(spec: dict[str, Any], wd: Path) -> None:
    """The run's code snapshot (spec.json `snapshot_id`) into `wd`; an empty `wd` without one."""
    snapshot_id = spec.get("snapshot_id")
    if snapshot_id:
        from engine.snapshots import SnapshotStore

        SnapshotStore(Path(spec["snapshots_root"])).materialize(snapshot_id, wd)
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
    """Start the supervisor in its own session; returns (pid, process start time)."""
    try:
        with open(files.supervisor_log, "ab") as log:
            proc = subprocess.Popen(
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
    # Reap it if we outlive it (the studio, an SDK session), so it leaves no zombie.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()
    return proc.pid, process_start_time(proc.pid)


def this_host() -> str:
    return socket.gethostname()
