"""Process-tree control for local runs: own the tree, end all of it."""

from __future__ import annotations

import ctypes
import os
import signal
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


def terminate_tree(pgid: int | None, grace: float) -> None:
    """SIGTERM the script's process group and every descendant of ours; SIGKILL what is left
    after `grace` seconds."""
    procs = descendants()
    _signal_all(pgid, procs, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(procs, timeout=grace)
    if alive or _group_alive(pgid):
        procs = descendants()
        _signal_all(pgid, procs, signal.SIGKILL)
        psutil.wait_procs(procs, timeout=5)


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
