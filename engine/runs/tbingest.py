"""TensorBoard event files a script writes under ``./logs`` become metrics of its run, live.

The supervisor polls the run's mirrored logs folder (at most every ``INTERVAL`` seconds); each
event file is read from the offset stored with its last ingested points (cursor ``tb/<path>``),
in the same transaction as those points, so a restart neither loses nor duplicates a point and
never reads a file from its start again. Scalars keep their tag names, steps and wall times.
Images go to the run's gallery: each is written to ``tracking/tensorboard/`` under a name made
of its tag, step and sample (a restart that reads it again writes the same file, and the
store's record of it comes with the offset, once) and recorded like a ``run.log_image``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.entities import MetricObject
from engine.tracking.tbevents import EventImage, event_files, read_events

__all__ = ["INTERVAL", "SOURCE_PREFIX", "TensorBoardIngestor"]

INTERVAL = 1.0
SOURCE_PREFIX = "tb/"


class TensorBoardIngestor:
    def __init__(
        self,
        store: Any,
        run_name: str,
        logs: Path,
        warn: Callable[[str], None] | None = None,
        images: Path | None = None,
    ) -> None:
        """``images``: the run's ``tracking`` folder, where images are written (None: not read)."""
        self.store = store
        self.run_name = run_name
        self.logs = logs
        self.images = images
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
                if not self.store.ingest(self.run_name, source=source, offset=chunk.offset,
                                         last_seq=count + chunk.events, scalars=chunk.scalars,
                                         objects=self._images(chunk.images), expect=(offset, count)):
                    # another ingestor of the run stored it first: go on from its cursor
                    self.cursors[source] = self.store.get_cursor(self.run_name, source)
                    continue
                self.cursors[source] = (chunk.offset, count + chunk.events)
                total += sum(len(col[0]) for col in chunk.scalars.values())
        return total

    def _images(self, images: list[EventImage]) -> list[MetricObject]:
        """Write each image into the run's tracking folder; the gallery's records of them."""
        if self.images is None or not images:
            return []
        folder = self.images / IMAGES_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        objects = []
        for im in images:
            name = f"{_safe(im.tag)}-{im.step}-{im.index}{_suffix(im.data)}"
            (folder / name).write_bytes(im.data)
            objects.append(MetricObject(im.tag, "image", {"path": f"tracking/{IMAGES_FOLDER}/{name}"},
                                        im.step, im.wall_time, None))
        return objects


IMAGES_FOLDER = "tensorboard"


def _safe(tag: str) -> str:
    """A file name for a tag (``val/samples`` -> ``val_samples-1a2b3c``): readable, and unique
    because two tags that read the same get a short hash of the tag itself."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tag)[:60] + "-" + hashlib.sha256(tag.encode()).hexdigest()[:6]


def _suffix(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data.startswith(b"GIF8"):
        return ".gif"
    return ".img"
