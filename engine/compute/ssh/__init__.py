"""Runs on `type: ssh` compute targets: the supervisor stays on this machine and drives the remote.

The run's materialized snapshot (RUN/wd) and the in-run client are uploaded to
``REMOTE = work_dir/<run name>/``; the script starts there detached (``setsid``, stdio to files)
so that a dropped connection never stops it. ``SshRun.poll`` then pulls, by byte offset, what
grew since the last pull into the run folder, where the usual ingestor and log mirror take it.
The script's exit code lands in REMOTE/exit_code (written with a rename, so it is whole when it
exists).

Modules: `connection` (the target's settings, a reconnecting link), `upload` (sending the run's
files), `pull` (bringing them back by offset), `run` (the run handle).

Remote layout::

    REMOTE/wd/          the snapshot; the script's working directory (outputs/, logs/)
    REMOTE/inject/      the in-run client (first on PYTHONPATH)
    REMOTE/bin/         `python` and `python3` wrappers for the run's interpreter (first on PATH)
    REMOTE/tracking/    record files the in-run client writes
    REMOTE/driver.log   stdout+stderr of the script
    REMOTE/exit_code    written when the script ends
"""

from typing import TYPE_CHECKING, Any

from engine.compute.ssh.connection import SshTarget, reconnect_timeout

if TYPE_CHECKING:
    from engine.compute.ssh.run import RUN_STATE, SshRun, hold_run_lock, make_ssh_run, run_lock_held

_FROM_RUN = frozenset({"RUN_STATE", "SshRun", "hold_run_lock", "make_ssh_run", "run_lock_held"})


def __getattr__(name: str) -> Any:
    """The run handle's names, imported on first use: a target's settings (SshTarget: compute
    status, a local job's submit) do not load the upload, pull and host-build modules (~0.1 s)."""
    if name in _FROM_RUN:
        from engine.compute.ssh import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "RUN_STATE",
    "SshRun",
    "SshTarget",
    "hold_run_lock",
    "make_ssh_run",
    "reconnect_timeout",
    "run_lock_held",
]
