"""Live ingestion of the in-run client's record files into the store.

Each writer (one per process of the script) appends JSON lines to `tracking/<writer>.jsonl` and
binary scalar records to `tracking/<writer>.scalars`. We read only whole lines/records after the
stored cursor of each file, and store the data together with the new cursor in one transaction:
a crash or restart at any point neither loses nor duplicates a record.

Two records ask for more than data: "M" registers a file or folder of the run as a model version
(MLflow's ``registered_model_name=``), and "c" creates or updates a child run (MLflow's nested
runs), whose own records are in ``tracking/children/<child>/tracking/``: a RecordIngestor of its own.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, cast

from engine.entities import TERMINAL_STATUSES, MetricObject
from engine.errors import NotFound
from engine.runs.files import RunFiles
from engine.store.sql import SqlStore
from engine.tracking.inject.trainyard_run.recordformat import (
    CHILDREN_DIR,
    KIND_CHILD,
    KIND_IMAGE,
    KIND_KEY,
    KIND_MODEL,
    KIND_PARAMS,
    KIND_SCALAR,
    KIND_STATUS,
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
                 warn: Callable[[str], None] | None = None, models_dir: Path | None = None) -> None:
        self.store = store
        self.run_name = run_name
        self.files = files
        self.warn = warn or (lambda _msg: None)
        # Where registered models are copied (the workspace's models folder); None: no registering.
        self.models_dir = models_dir
        self.cursors = store.get_cursors(run_name)
        self.keys: dict[str, dict[int, str]] = {}  # writer -> key id -> key
        self.children: dict[str, RecordIngestor] = {}
        # The script's run.complete() / run.fail(): (status, error), the last one asked for.
        self.requested_status: tuple[str, str | None] | None = None
        children_root = str(self.files.tracking / CHILDREN_DIR)
        for child in store.list_children(run_name):  # after a restart: the children made before
            if child.run_dir.startswith(children_root):
                self.children[child.name] = self._child_ingestor(child.name)

    def poll(self) -> int:
        """Ingest everything complete that is new; returns the number of records stored."""
        total = 0
        for writer in writers(self.files.tracking):
            # JSON lines first: they define the key ids the binary records use.
            while (n := self._ingest_lines(writer)) is not None:
                total += n
            while (n := self._ingest_scalars(writer)) is not None:
                total += n
        for child in list(self.children.values()):
            total += child.poll()
        return total

    def end_children(self, status: str) -> None:
        """At the end of the run: children still open end with the run's status (Completed when
        the script ended well without ending them, as MLflow does at exit)."""
        for name, child in self.children.items():
            child.end_children(status)
            if not self.store.get_run(name).is_terminal:
                self.store.set_status(name, status)

    def _child_ingestor(self, name: str) -> RecordIngestor:
        files = RunFiles(self.files.tracking / CHILDREN_DIR / name)
        return RecordIngestor(self.store, name, files, self.warn, self.models_dir)

    def _child(self, name: str, info: dict[str, Any]) -> None:
        """Create (first record) or update a child run."""
        rel = PurePosixPath(name)
        if len(rel.parts) != 1 or name in (".", ".."):
            self.warn(f"child run: refused id {name!r}: it must be a plain name")
            return
        display = info.get("display_name")
        status = info.get("status")
        if name not in self.children:
            try:
                self.store.get_run(name)
            except NotFound:
                parent = self.store.get_run(self.run_name)
                self.store.create_run(name=name, experiment_name=parent.experiment_name,
                                      run_dir=str(self.files.tracking / CHILDREN_DIR / name),
                                      parent_name=self.run_name, status="Running",
                                      display_name=str(display or name), compute=parent.compute)
            self.children[name] = self._child_ingestor(name)
        elif display:
            self.store.update_run(name, display_name=str(display))
        if status in TERMINAL_STATUSES:
            child = self.children[name]
            child.poll()  # what it logged before it ended, first
            error = info.get("error")
            if status == "Failed" and error is None and child.requested_status is not None:
                error = child.requested_status[1]
            if error:
                self.store.set_status(name, str(status), error=str(error))
            else:
                self.store.set_status(name, str(status))

    def _request_status(self, status: str, info: dict[str, Any]) -> None:
        """run.complete() / run.fail(): the status the run ends with; the supervisor applies it
        when the script exits (a script that fails after run.complete() still fails the run)."""
        error = info.get("error")
        self.requested_status = (status, None if error is None else str(error))

    def _register_model(self, name: str, info: dict[str, Any]) -> None:
        """A new version of model `name` from a file or folder of the run (uploaded before)."""
        path = str(info.get("path", ""))
        rel = PurePosixPath(path)
        src = self.files.root / rel
        if self.models_dir is None or rel.is_absolute() or ".." in rel.parts or not src.exists():
            self.warn(f"register model {name!r}: {path!r} is not a file or folder of the run")
            return
        staging = self.models_dir / f".staging-{os.getpid()}-{time.monotonic_ns()}"
        if src.is_dir():
            shutil.copytree(src, staging / src.name)
        else:
            staging.mkdir(parents=True)
            shutil.copy2(src, staging / src.name)
        models_dir = self.models_dir

        def place(version: int) -> Path:
            final = models_dir / name / str(version)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, final)
            return final / src.name

        tags = info.get("tags")
        try:
            self.store.add_model(name=name, path_for_version=place, run_name=self.run_name,
                                 description=str(info.get("description") or ""),
                                 tags=dict(tags) if isinstance(tags, dict) else {}, source_path=path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

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
            elif kind == KIND_MODEL:
                self._register_model(str(r.key), cast("dict[str, Any]", r.value))
            elif kind == KIND_CHILD:
                self._child(str(r.key), cast("dict[str, Any]", r.value))
            elif kind == KIND_STATUS:
                self._request_status(str(r.key), cast("dict[str, Any]", r.value))
            elif kind in OBJECT_KINDS:
                value = {"path": f"tracking/{r.value}"} if kind == KIND_IMAGE else r.value
                objects.append(MetricObject(str(r.key), OBJECT_KINDS[kind], value,
                                            r.step if r.step is not None else r.seq, r.timestamp, r.description))
        # Scalars as JSON lines (kind "m") are still accepted, e.g. from other writers.
        scalars = scalar_columns(r for r in fresh if r.kind == KIND_SCALAR)
        new_seq = max([last_seq, *(r.seq for r in fresh)])
        if not self.store.ingest(self.run_name, source=source, offset=new_offset, last_seq=new_seq,
                                 scalars=scalars, objects=objects, tags=tags, params=params,
                                 expect=(offset, last_seq)):
            return self._lost_race(source)
        self.cursors[source] = (new_offset, new_seq)
        return sum(1 for r in fresh if r.kind != KIND_KEY)

    def _lost_race(self, source: str) -> int:
        """Another ingestor of this run stored the batch first (two engines of a team workspace):
        go on from where it got to."""
        self.cursors[source] = self.store.get_cursor(self.run_name, source)
        return 0

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
        if not self.store.ingest(self.run_name, source=source, offset=new_offset, last_seq=new_seq, scalars=columns,
                                 expect=(offset, last_seq)):
            return self._lost_race(source)
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
