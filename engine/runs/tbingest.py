"""TensorBoard event files a script writes under ``./logs`` become metrics of its run, live.

The supervisor polls the run's mirrored logs folder (at most every ``INTERVAL`` seconds); each
event file is read from the offset stored with its last ingested points (cursor ``tb/<path>``),
in the same transaction as those points, so a restart neither loses nor duplicates a point and
never reads a file from its start again. Scalars keep their tag names, steps and wall times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.tracking.tbevents import event_files, read_events

__all__ = ["INTERVAL", "SOURCE_PREFIX", "TensorBoardIngestor"]

INTERVAL = 1.0
SOURCE_PREFIX = "tb/"


class TensorBoardIngestor:
    def __init__(
        self, store: Any, run_name: str, logs: Path, warn: Callable[[str], None] | None = None
    ) -> None:
        self.store = store
        self.run_name = run_name
        self.logs = logs
        self.warn = warn or (lambda _msg: None)
        self.cursors = {k: v for k, v in store.get_cursors(run_name).items() if k.startswith(SOURCE_PREFIX)}
        self.next_at = 0.0
        self.warned: set[str] = set()

    def poll(self, force: bool = False) -> int:
        """Ingest what is new in every event file; returns the number of points stored."""
        now = time.monotonic()
        if not force and now < self.next_at:
            return 0
        self.next_at = now + INTERVAL
        if not self.logs.is_dir():
            return 0
        total = 0
        for path in event_files(self.logs):
            source = SOURCE_PREFIX + path.relative_to(self.logs).as_posix()
            while True:
                offset, count = self.cursors.get(source, (0, 0))
                chunk = read_events(path, offset)
                if chunk.error and source not in self.warned:
                    self.warned.add(source)
                    self.warn(chunk.error)
                if chunk.offset == offset:
                    break
                self.store.ingest(
                    self.run_name,
                    source=source,
                    offset=chunk.offset,
                    last_seq=count + chunk.events,
                    scalars=chunk.scalars,
                )
                self.cursors[source] = (chunk.offset, count + chunk.events)
                total += sum(len(col[0]) for col in chunk.scalars.values())
        return total
