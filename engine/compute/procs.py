"""Process-tree control for local runs: own the tree, end all of it; tell a live process from a
reused pid."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time

import psutil

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned grandchildren of the script re-parent to us, so cancel can still find them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: process-group kill still covers the usual cases


def descendants() -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def terminate_tree(main: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM the script's process group and every descendant of ours; SIGKILL what is left
    after `grace` seconds. The script itself is reaped through its Popen only, so its exit
    status is not lost to another wait()."""
    pgid = main.pid if main is not None else None
    others = [p for p in descendants() if main is None or p.pid != main.pid]
    _signal_all(pgid, others, signal.SIGTERM)
    deadline = time.monotonic() + grace
    if main is not None:
        try:
            main.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    _gone, alive = psutil.wait_procs(others, timeout=max(0.0, deadline - time.monotonic()))
    if alive or _group_alive(pgid) or (main is not None and main.poll() is None):
        others = [p for p in descendants() if main is None or p.pid != main.pid]
        _signal_all(pgid, others, signal.SIGKILL)
        if main is not None:
            main.wait()
        psutil.wait_procs(others, timeout=5)


def reap_leftovers(grace: float = 2.0) -> int:
    """After the script exits, end any process it left behind; returns how many there were."""
    left = descendants()
    if left:
        terminate_tree(None, grace)
    return len(left)


def _signal_all(pgid: int | None, procs: list[psutil.Process], sig: int) -> None:
    if pgid:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass


def _group_alive(pgid: int | None) -> bool:
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_same_process_alive(pid: int | None, started: float | None) -> bool:
    """True if `pid` runs and is the process that started at `started` (not a reused pid)."""
    if not pid:
        return False
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(p.create_time() - started) < 1.0
    except psutil.Error:
        return False


def wait_pid_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_same_process_alive(pid, None):
            return True
        time.sleep(0.05)
    return False
