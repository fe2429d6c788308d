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
    """Write the driver log as it grows until the run ends; returns the final run."""
    run = store.get_run(name)
    path = RunFiles(Path(run.run_dir)).driver_log
    offset = 0
    decoder_tail = b""
    last_status_check = 0.0
    while True:
        chunk = b""
        if path.exists():
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
        if chunk:
            data = decoder_tail + chunk
            cut = _complete_utf8(data)
            write(data[:cut].decode("utf-8", "replace"))
            decoder_tail = data[cut:]
            continue
        now = time.monotonic()
        if now - last_status_check >= 0.25:
            last_status_check = now
            run = store.get_run(name)
            if run.is_terminal:
                if path.exists() and path.stat().st_size > offset:
                    continue
                if decoder_tail:
                    write(decoder_tail.decode("utf-8", "replace"))
                return run
            fail_if_orphaned(store, run)
        time.sleep(poll)


def _complete_utf8(data: bytes) -> int:
    """Where `data` ends without an incomplete UTF-8 sequence (held back for the next read)."""
    cut = len(data)
    while cut > 0 and cut > len(data) - 4 and (data[cut - 1] & 0xC0) == 0x80:
        cut -= 1
    if cut > 0 and data[cut - 1] >= 0xC0:
        return cut - 1
    return len(data)
