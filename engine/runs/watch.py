"""Watching a run from another process: wait for its end, follow its driver log as it grows.

Both notice a supervisor that died (engine.runs.control.fail_if_orphaned), so a watcher never
waits forever on a run nobody owns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine import entities as E
from engine.runs.control import fail_if_orphaned
from engine.runtime.distribution import Distribution
from engine.runtime.files import RunFiles

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["follow_log", "wait"]


def wait(store: Store, name: str, timeout: float | None = None, poll: float = 0.2) -> E.Run:
    """The run once it ended, or as it is when `timeout` seconds passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = store.get_run(name)
        if run.is_terminal:
            return run
        if deadline is not None and time.monotonic() > deadline:
            return run
        fail_if_orphaned(store, run)
        time.sleep(poll)


def follow_log(store: Store, name: str, write: Callable[[str], None], poll: float = 0.1) -> E.Run:
    """Write the driver log as it grows until the run ends; returns the final run. A distributed
    run's main process (rank 0, TensorFlow's chief) writes a log of its own: it is followed too."""
    run = store.get_run(name)
    files = RunFiles(Path(run.run_dir))
    paths = [files.driver_log]
    dist = run.properties.get("distribution")
    if isinstance(dist, dict):
        try:
            paths.append(files.system_logs / Distribution.from_dict(dist).main_log_name)
        except (KeyError, TypeError, ValueError):
            pass  # a damaged property: the driver log alone
    followers = [_Follower(p) for p in paths]
    last_status_check = 0.0
    began = time.monotonic()
    while True:
        text = "".join(f.read() for f in followers)
        if text:
            write(text)
            continue
        now = time.monotonic()
        # A short job's end is seen at once (`job create --stream` of a one-liner answers in
        # under a second); a long one's status is read four times a second, as before.
        check_every = min(0.25, 0.02 + (now - began) / 40)
        if now - last_status_check >= check_every:
            last_status_check = now
            run = store.get_run(name)
            if run.is_terminal:
                if any(f.grew() for f in followers):
                    continue
                tail = "".join(f.rest() for f in followers)
                if tail:
                    write(tail)
                return run
            fail_if_orphaned(store, run)
        time.sleep(min(poll, check_every))


class _Follower:
    """One growing file, read as text without splitting a UTF-8 sequence."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.tail = b""

    def read(self) -> str:
        if not self.path.exists():
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        if not chunk:
            return ""
        self.offset += len(chunk)
        data = self.tail + chunk
        cut = _complete_utf8(data)
        self.tail = data[cut:]
        return data[:cut].decode("utf-8", "replace")

    def grew(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > self.offset

    def rest(self) -> str:
        text, self.tail = self.tail.decode("utf-8", "replace"), b""
        return text


def _complete_utf8(data: bytes) -> int:
    """Where `data` ends without an incomplete UTF-8 sequence (held back for the next read)."""
    cut = len(data)
    while cut > 0 and cut > len(data) - 4 and (data[cut - 1] & 0xC0) == 0x80:
        cut -= 1
    if cut > 0 and data[cut - 1] >= 0xC0:
        return cut - 1
    return len(data)
