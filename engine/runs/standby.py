"""A run's supervisor started before its run exists, so that its imports are not on the run's way.

`trainyard job create` starts one first (`start`). While the CLI checks, snapshots and records the
run, it imports the supervisor (~0.2 s) and, in a thread, SQLAlchemy and the store (~0.3 s), on
the other core. `engine.runs.launch.start_supervisor` then hands it the run folder (`hand_over`)
instead of starting a process. With a one-line script, the line came ~0.2 s sooner and the whole
`job create --stream` ~0.5 s sooner than with a supervisor that imports after the record.

The process is the same detached supervisor (its own session, output to the run's supervisor.log,
working directory the run folder). If the CLI fails before the hand-off, or is killed, the socket
closes and the standby exits without touching anything. If the standby cannot take the run, it is
killed and the run gets a supervisor of its own, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

from engine.runtime import supervisor_command
from engine.runtime.files import RunFiles

__all__ = ["STANDBY_ARG", "hand_over", "start", "wait_for_run"]

# engine.entry's argument instead of a run folder: "--standby-fd=N", N the socket to the CLI.
STANDBY_ARG = "--standby-fd="
# How long the CLI waits for the standby to take the run (its imports must be done by then).
_TAKE_TIMEOUT = 60.0
_NO_SIGPIPE = getattr(socket, "MSG_NOSIGNAL", 0)  # the CLI exits on SIGPIPE (`job list | head`)

_waiting: tuple[subprocess.Popen[bytes], socket.socket] | None = None


def start() -> None:
    """Start this process's standby supervisor (once; the first run launched gets it)."""
    global _waiting
    if _waiting is not None:
        return
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(
            supervisor_command(f"{STANDBY_ARG}{theirs.fileno()}"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI, as any supervisor does
            close_fds=True, pass_fds=(theirs.fileno(),),
        )
    except OSError:
        ours.close()  # the run starts a supervisor of its own
        return
    finally:
        theirs.close()
    _waiting = (proc, ours)


def hand_over(files: RunFiles) -> subprocess.Popen[bytes] | None:
    """Give the recorded run in `files` to the standby: its process, or None when there is none
    or it could not take the run (then it is stopped before it could start it)."""
    global _waiting
    if _waiting is None:
        return None
    proc, sock = _waiting
    _waiting = None
    taken = b""
    with sock:
        try:
            sock.settimeout(_TAKE_TIMEOUT)
            sock.send(os.fsencode(files.root) + b"\n", _NO_SIGPIPE)
            taken = sock.recv(16)
        except OSError:  # it died (a broken install), or hangs
            pass
    if taken != b"ok\n":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None
    return proc


def wait_for_run(fd: int) -> Path | None:
    """In the standby: wait for the run folder on socket `fd`, importing what the supervisor
    needs after its script started (SQLAlchemy and the store) meanwhile. Takes the run (output to
    its supervisor.log, working directory its folder) and says so; None when the CLI went away
    without one."""
    # A thread, so that a run handed over before it is done is taken at once: the supervisor
    # starts the script first, and its own import of engine.runs.ingest waits for this one.
    threading.Thread(target=importlib.import_module, args=("engine.runs.ingest",), daemon=True,
                     name="warm-imports").start()
    with socket.socket(fileno=fd) as sock:
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
        files = RunFiles(Path(os.fsdecode(data[:-1])))
        log = os.open(files.supervisor_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir(files.root)
        with contextlib.suppress(OSError):  # a CLI killed now: the run is recorded, run it
            sock.sendall(b"ok\n")
    return files.root
