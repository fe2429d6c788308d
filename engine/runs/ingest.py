"""Live ingestion of the in-run client's record files into the store.

Each writer (one per process of the script) appends to its own `tracking/<writer>.jsonl`.
We read only complete lines after the stored cursor, and store the data together with the new
cursor in one transaction: a crash or restart at any point neither loses nor duplicates a record.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from engine.entities import MetricObject
from engine.runs.files import RunFiles
from engine.store.sql import SqlStore
from engine.tracking.records import parse_records, read_complete_lines, scalar_columns

BATCH_BYTES = 32 << 20


class RecordIngestor:
    def __init__(self, store: SqlStore, run_name: str, files: RunFiles,
                 warn: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.run_name = run_name
        self.files = files
        self.warn = warn or (lambda _msg: None)
        self.cursors = store.get_cursors(run_name)

    def poll(self) -> int:
        """Ingest everything complete that is new; returns the number of records stored."""
        total = 0
        tracking = self.files.tracking
        if not tracking.is_dir():
            return 0
        for path in sorted(tracking.glob("*.jsonl")):
            while True:
                n, more = self._ingest_some(path)
                total += n
                if not more:
                    break
        return total

    def _ingest_some(self, path: Path) -> tuple[int, bool]:
        source = path.name
        offset, last_seq = self.cursors.get(source, (0, 0))
        lines, new_offset = read_complete_lines(path, offset, BATCH_BYTES)
        if new_offset == offset:
            return 0, False
        records, errors = parse_records(lines, source)
        for err in errors:
            self.warn(err)
        fresh = [r for r in records if r.seq > last_seq]
        objects: list[MetricObject] = []
        tags: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for r in fresh:
            kind = r.kind
            if kind == "m":
                continue
            if kind == "g":
                tags.update(r.value)  # type: ignore[arg-type]
            elif kind == "p":
                params.update(r.value)  # type: ignore[arg-type]
            elif kind == "u":
                self._place_upload(str(r.key), str(r.value))
            else:
                kinds = {"l": "list", "r": "row", "t": "table", "i": "image"}
                value = r.value
                if kind == "i":
                    value = {"path": f"tracking/{value}"}
                objects.append(MetricObject(str(r.key), kinds.get(kind, kind), value,
                                            r.step if r.step is not None else r.seq, r.timestamp, r.description))
        scalars = scalar_columns(r for r in fresh if r.kind == "m")
        new_seq = max([last_seq, *(r.seq for r in fresh)])
        self.store.ingest(self.run_name, source=source, offset=new_offset, last_seq=new_seq,
                          scalars=scalars, objects=objects, tags=tags, params=params)
        self.cursors[source] = (new_offset, new_seq)
        return len(fresh), True  # progress was made: look again for more

    def _place_upload(self, name: str, stored: str) -> None:
        """Move an uploaded file to its name in the run (e.g. outputs/x.csv), refusing escapes."""
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            self.warn(f"upload_file: refused name {name!r}: it must be a relative path inside the run")
            return
        src = self.files.tracking / stored
        dst = self.files.root / rel
        if not src.exists():
            return  # already placed before a restart
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
