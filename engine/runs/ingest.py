"""Live ingestion of the in-run client's record files into the store.

Each writer (one per process of the script) appends JSON lines to `tracking/<writer>.jsonl` and
binary scalar records to `tracking/<writer>.scalars`. We read only whole lines/records after the
stored cursor of each file, and store the data together with the new cursor in one transaction:
a crash or restart at any point neither loses nor duplicates a record.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, cast

from engine.entities import MetricObject
from engine.runs.files import RunFiles
from engine.store.sql import SqlStore
from engine.tracking.inject.trainyard_run.recordformat import (
    KIND_IMAGE,
    KIND_KEY,
    KIND_PARAMS,
    KIND_SCALAR,
    KIND_TAGS,
    KIND_UPLOAD,
    OBJECT_KINDS,
    jsonl_name,
    scalars_name,
)
from engine.tracking.records import (
    parse_records,
    read_complete_lines,
    read_key_definitions,
    read_scalar_block,
    scalar_columns,
    split_scalars,
    writers,
)

BATCH_BYTES = 32 << 20
BATCH_SCALARS = 1 << 21


class RecordIngestor:
    def __init__(self, store: SqlStore, run_name: str, files: RunFiles,
                 warn: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.run_name = run_name
        self.files = files
        self.warn = warn or (lambda _msg: None)
        self.cursors = store.get_cursors(run_name)
        self.keys: dict[str, dict[int, str]] = {}  # writer -> key id -> key

    def poll(self) -> int:
        """Ingest everything complete that is new; returns the number of records stored."""
        total = 0
        for writer in writers(self.files.tracking):
            # JSON lines first: they define the key ids the binary records use.
            while (n := self._ingest_lines(writer)) is not None:
                total += n
            while (n := self._ingest_scalars(writer)) is not None:
                total += n
        return total

    def _keys(self, writer: str) -> dict[int, str]:
        keys = self.keys.get(writer)
        if keys is None:
            # After a restart the cursor is past the definitions: read them again.
            upto = self.cursors.get(jsonl_name(writer), (0, 0))[0]
            keys = self.keys[writer] = read_key_definitions(self.files.tracking / jsonl_name(writer), upto)
        return keys

    def _ingest_lines(self, writer: str) -> int | None:
        """One batch of a .jsonl file; None when there was nothing new."""
        source = jsonl_name(writer)
        path = self.files.tracking / source
        offset, last_seq = self.cursors.get(source, (0, 0))
        lines, new_offset = read_complete_lines(path, offset, BATCH_BYTES)
        if new_offset == offset:
            return None
        records, errors = parse_records(lines, source)
        for err in errors:
            self.warn(err)
        keys = self._keys(writer)
        fresh = [r for r in records if r.seq > last_seq]
        objects: list[MetricObject] = []
        tags: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for r in fresh:
            kind = r.kind
            if kind == KIND_KEY:
                keys[int(r.value)] = str(r.key)  # type: ignore[call-overload]
            elif kind == KIND_TAGS:
                tags.update(cast("dict[str, Any]", r.value))  # a dict: parse_records checked it
            elif kind == KIND_PARAMS:
                params.update(cast("dict[str, Any]", r.value))
            elif kind == KIND_UPLOAD:
                self._place_upload(str(r.key), str(r.value))
            elif kind in OBJECT_KINDS:
                value = {"path": f"tracking/{r.value}"} if kind == KIND_IMAGE else r.value
                objects.append(MetricObject(str(r.key), OBJECT_KINDS[kind], value,
                                            r.step if r.step is not None else r.seq, r.timestamp, r.description))
        # Scalars as JSON lines (kind "m") are still accepted, e.g. from other writers.
        scalars = scalar_columns(r for r in fresh if r.kind == KIND_SCALAR)
        new_seq = max([last_seq, *(r.seq for r in fresh)])
        self.store.ingest(self.run_name, source=source, offset=new_offset, last_seq=new_seq,
                          scalars=scalars, objects=objects, tags=tags, params=params)
        self.cursors[source] = (new_offset, new_seq)
        return sum(1 for r in fresh if r.kind != KIND_KEY)

    def _ingest_scalars(self, writer: str) -> int | None:
        """One batch of a .scalars file; None when there was nothing new (or nothing usable yet)."""
        source = scalars_name(writer)
        offset, last_seq = self.cursors.get(source, (0, 0))
        block, _end = read_scalar_block(self.files.tracking / source, offset, BATCH_SCALARS)
        if len(block) == 0:
            return None
        columns, used = split_scalars(block, self._keys(writer))
        if used == 0:
            return None  # its key definition is not written yet: next poll
        block = block[:used]
        fresh = block["seq"] > last_seq
        if not fresh.all():  # never after a clean cursor; defensive against a rewritten file
            columns, _ = split_scalars(block[fresh], self.keys[writer])
        new_seq = max(last_seq, int(block["seq"].max()))
        new_offset = offset + used * block.dtype.itemsize
        self.store.ingest(self.run_name, source=source, offset=new_offset, last_seq=new_seq, scalars=columns)
        self.cursors[source] = (new_offset, new_seq)
        return int(fresh.sum())

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
