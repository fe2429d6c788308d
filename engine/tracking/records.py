"""Reading the record files that the in-run client (``inject/trainyard_run``) writes.

Their format (file names, line kinds, the binary scalar record) is defined once, in
``inject/trainyard_run/recordformat.py``, which the client writes by. Each process of a run appends
JSON-array lines to its own ``<writer>.jsonl``, every line starting with a sequence number, and
binary scalar records to ``<writer>.scalars``; a reader that remembers its byte offset and the
last sequence number per file never loses or duplicates a record across restarts and reconnects.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.tracking.inject.trainyard_run.recordformat import (
    JSONL_SUFFIX,
    KIND_CHILD,
    KIND_IMAGE,
    KIND_KEY,
    KIND_LIST,
    KIND_MODEL,
    KIND_PARAMS,
    KIND_ROW,
    KIND_SCALAR,
    KIND_STATUS,
    KIND_TABLE,
    KIND_TAGS,
    KIND_UPLOAD,
    KINDS,
    SCALAR_FIELDS,
    SCALAR_RECORD,
    SCALARS_SUFFIX,
    TORN_KEY_ID,
    jsonl_name,
    scalars_name,
)

__all__ = [
    "KINDS",
    "SCALAR_DTYPE",
    "Record",
    "parse_records",
    "read_complete_lines",
    "read_key_definitions",
    "read_scalar_block",
    "scalar_columns",
    "split_scalars",
]

# What a line of each object kind holds as its value.
_OBJECT_VALUE = {KIND_LIST: list, KIND_ROW: dict, KIND_TABLE: dict, KIND_IMAGE: str}
# Only lines holding this can define a key id.
_KEY_LINE = f',"{KIND_KEY}",'.encode()
_READ_MORE = 1 << 20  # extra bytes read at a time when one line is longer than max_bytes


@dataclass(frozen=True, slots=True)
class Record:
    """One parsed record line. ``key`` is None for tags/params; ``step`` is set for metrics only."""

    seq: int
    kind: str
    key: str | None
    value: object
    step: int | None
    timestamp: float
    description: str | None


# Frozen dataclasses build instances through object.__setattr__ per field; setting the slots
# through their descriptors directly is ~3x faster, which matters at a million records.
_SETTERS = tuple(Record.__dict__[name].__set__ for name in Record.__slots__)


def _record_factory():
    s0, s1, s2, s3, s4, s5, s6 = _SETTERS
    new = object.__new__

    def make(seq, kind, key, value, step, timestamp, description, _new=new, _cls=Record):
        rec = _new(_cls)
        s0(rec, seq)
        s1(rec, kind)
        s2(rec, key)
        s3(rec, value)
        s4(rec, step)
        s5(rec, timestamp)
        s6(rec, description)
        return rec

    return make


_make = _record_factory()


def read_complete_lines(path: Path, offset: int, max_bytes: int = 64 << 20) -> tuple[list[bytes], int]:
    """The complete (newline-terminated) lines after ``offset``, without their newlines, and the
    offset just after the last of them.

    A trailing partial line (a writer mid-write) is left for the next call. Reads about
    ``max_bytes`` at most, unless a single line is longer. A missing file reads as empty.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below; a missing file is not an error
    except FileNotFoundError:
        return [], offset
    with f:
        # read(n) allocates n bytes up front: never ask for more than the file holds.
        size = os.fstat(f.fileno()).st_size
        f.seek(offset)
        data = f.read(max(0, min(max_bytes, size - offset)))
        end = data.rfind(b"\n")
        while end < 0 and len(data) >= max_bytes:  # one line longer than max_bytes: keep reading
            more = f.read(_READ_MORE)
            if not more:
                break
            start = len(data)
            data += more
            end = data.find(b"\n", start)
            max_bytes = len(data)
    if end < 0:
        return [], offset
    lines = data[:end].split(b"\n")
    return lines, offset + end + 1


def _is_number(v: object) -> bool:
    t = type(v)
    return t is float or t is int


def _check(a: object) -> Record | str:
    """A Record from one decoded line, or the reason it is not a valid record."""
    if type(a) is not list or len(a) < 4:
        return "not a record array"
    seq, kind = a[0], a[1]
    if type(seq) is not int or seq < 1:
        return "sequence number must be a positive int"
    if type(kind) is not str:  # before the dict lookups below: a list or object is unhashable
        return f"unknown record kind {kind!r}"
    if kind == KIND_SCALAR:
        if len(a) != 6:
            return "scalar record needs 6 fields"
        _, _, key, value, step, ts = a
        if type(key) is not str:
            return "metric key must be a string"
        if not _is_number(value):
            return "metric value must be a number"
        if step is not None and type(step) is not int:
            return "step must be an int or null"
        if not _is_number(ts):
            return "timestamp must be a number"
        return _make(seq, KIND_SCALAR, key, float(value), step, float(ts), None)
    if kind in _OBJECT_VALUE:
        if len(a) != 6:
            return f"{kind!r} record needs 6 fields"
        _, _, key, value, ts, desc = a
        if type(key) is not str:
            return "key must be a string"
        want = _OBJECT_VALUE[kind]
        if type(value) is not want:
            return f"{kind!r} record value must be a {want.__name__}"
        if kind == KIND_TABLE and not all(type(col) is list for col in value.values()):
            return "table columns must be lists"
        if not _is_number(ts):
            return "timestamp must be a number"
        if desc is not None and type(desc) is not str:
            return "description must be a string"
        return _make(seq, kind, key, value, None, float(ts), desc)
    if kind in (KIND_TAGS, KIND_PARAMS):
        if len(a) != 4:
            return f"{kind!r} record needs 4 fields"
        _, _, value, ts = a
        if type(value) is not dict:
            return f"{kind!r} record value must be an object"
        if not _is_number(ts):
            return "timestamp must be a number"
        return _make(seq, kind, None, value, None, float(ts), None)
    if kind == KIND_KEY:
        if len(a) != 4:
            return "'k' record needs 4 fields"
        _, _, key_id, key = a
        if type(key_id) is not int or key_id < 1 or type(key) is not str:
            return "'k' record needs a positive int id and a string key"
        return _make(seq, KIND_KEY, key, key_id, None, 0.0, None)
    if kind == KIND_UPLOAD:
        if len(a) != 5:
            return "'u' record needs 5 fields"
        _, _, name, stored, ts = a
        if type(name) is not str or type(stored) is not str:
            return "upload name and stored file must be strings"
        if not _is_number(ts):
            return "timestamp must be a number"
        return _make(seq, KIND_UPLOAD, name, stored, None, float(ts), None)
    if kind == KIND_MODEL:
        if len(a) != 6:
            return "'M' record needs 6 fields"
        _, _, name, path, ts, info = a
        if type(name) is not str or type(path) is not str or type(info) is not dict:
            return "'M' record needs a model name, a path in the run and an info object"
        if not _is_number(ts):
            return "timestamp must be a number"
        return _make(seq, KIND_MODEL, name, {**info, "path": path}, None, float(ts), None)
    if kind == KIND_CHILD:
        if len(a) != 5:
            return "'c' record needs 5 fields"
        _, _, child, info, ts = a
        if type(child) is not str or type(info) is not dict:
            return "'c' record needs a child run id and an info object"
        if not _is_number(ts):
            return "timestamp must be a number"
        return _make(seq, KIND_CHILD, child, info, None, float(ts), None)
    if kind == KIND_STATUS:
        if len(a) != 5:
            return "'s' record needs 5 fields"
        _, _, status, info, ts = a
        if status not in ("Completed", "Failed") or type(info) is not dict:
            return "'s' record needs Completed or Failed and an info object"
        if not _is_number(ts):
            return "timestamp must be a number"
        return _make(seq, KIND_STATUS, status, info, None, float(ts), None)
    return f"unknown record kind {kind!r}"


def _error(source: str, line: bytes, reason: str) -> str:
    shown = line if len(line) <= 200 else line[:200] + b"..."
    return "{}: malformed record ({}): {}".format(source, reason, shown.decode("utf-8", "replace"))


def _parse_fast(lines: list[bytes]) -> list[Record] | None:
    """All lines at once with one json.loads; None when any line is bad (the caller goes slow)."""
    try:
        arrays = json.loads(b"[" + b",".join(lines) + b"]")
    except (ValueError, RecursionError):
        return None
    if len(arrays) != len(lines):  # a line held more (or less) than one JSON value
        return None
    out: list[Record] = []
    add = out.append
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6 = _SETTERS
    for a in arrays:
        # Inline check and construction for the overwhelmingly common scalar line (a function
        # call per record would cost a fifth of the time); everything else goes through _check.
        try:
            seq, kind, key, value, step, ts = a
        except (TypeError, ValueError):
            kind = None
        if kind == KIND_SCALAR:
            tv = type(value)
            tt = type(ts)
            if (
                type(seq) is int
                and seq > 0
                and type(key) is str
                and (tv is float or tv is int)
                and (type(step) is int or step is None)
                and (tt is float or tt is int)
            ):
                rec = new(Record)
                s0(rec, seq)
                s1(rec, KIND_SCALAR)
                s2(rec, key)
                s3(rec, value if tv is float else float(value))
                s4(rec, step)
                s5(rec, ts if tt is float else float(ts))
                s6(rec, None)
                add(rec)
                continue
        checked = _check(a)
        if isinstance(checked, str):
            return None
        add(checked)
    return out


def parse_records(lines: list[bytes], source: str) -> tuple[list[Record], list[str]]:
    """Parse record lines (as from ``read_complete_lines``) into Records, in order.

    Never raises on a bad line: each one becomes an error string naming ``source`` (the file)
    and showing the line. Empty lines are skipped. Scalar metric values come back as floats.
    """
    if b"" in lines:  # a C-level scan; filtering every line would cost more than the check
        lines = [line for line in lines if line]
    if not lines:
        return [], []
    # Only acyclic objects are built here; the cyclic GC would rescan them repeatedly for nothing
    # (it roughly doubles the time for a million records).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        fast = _parse_fast(lines)
        if fast is not None:
            return fast, []
        records: list[Record] = []
        errors: list[str] = []
        for line in lines:
            try:
                a = json.loads(line)
            except (ValueError, RecursionError) as exc:
                errors.append(_error(source, line, f"not JSON: {exc}"))
                continue
            rec = _check(a)
            if isinstance(rec, str):
                errors.append(_error(source, line, rec))
            else:
                records.append(rec)
        return records, errors
    finally:
        if gc_was_enabled:
            gc.enable()


def scalar_columns(records: Iterable[Record]) -> dict[str, tuple[list[int], list[float], list[float]]]:
    """Scalar metrics grouped by key, in the given order: key -> (steps, values, timestamps).

    A metric without a step gets its index within its key.
    """
    columns: dict[str, tuple[list[int], list[float], list[float]]] = {}
    get = columns.get
    for rec in records:
        if rec.kind != KIND_SCALAR:
            continue
        col = get(rec.key)  # type: ignore[arg-type]
        if col is None:
            col = columns[rec.key] = ([], [], [])  # type: ignore[index]
        steps, values, stamps = col
        step = rec.step
        steps.append(len(steps) if step is None else step)
        values.append(rec.value)  # type: ignore[arg-type]
        stamps.append(rec.timestamp)
    return columns


# The binary record as a numpy dtype, field by field from the struct format the client packs with.
_NUMPY_TYPES = {"Q": "<u8", "I": "<u4", "q": "<i8", "d": "<f8"}
SCALAR_DTYPE = np.dtype(list(zip(SCALAR_FIELDS, (_NUMPY_TYPES[c] for c in SCALAR_RECORD.format[1:]), strict=True)))
assert SCALAR_RECORD.format[0] == "<" and SCALAR_DTYPE.itemsize == SCALAR_RECORD.size == 36


def read_scalar_block(path: Path, offset: int, max_records: int = 1 << 22) -> tuple[np.ndarray, int]:
    """Whole binary scalar records after `offset` (at most `max_records`), and the new offset."""
    size = SCALAR_DTYPE.itemsize
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            available = f.tell() - offset
            f.seek(offset)
            data = f.read(max(0, min(available, max_records * size)))
    except FileNotFoundError:
        return np.empty(0, SCALAR_DTYPE), offset
    whole = len(data) - len(data) % size
    return np.frombuffer(data[:whole], dtype=SCALAR_DTYPE), offset + whole


def read_key_definitions(path: Path, upto: int | None = None) -> dict[int, str]:
    """Key ids defined by "k" lines of a writer's .jsonl file (before byte `upto`)."""
    try:
        with open(path, "rb") as f:
            data = f.read() if upto is None else f.read(upto)
    except FileNotFoundError:
        return {}
    keys: dict[int, str] = {}
    for line in data.split(b"\n"):
        if _KEY_LINE in line:  # parse only the lines that can be key definitions
            try:
                rec = _check(json.loads(line))
            except ValueError:
                continue
            if type(rec) is Record and rec.kind == KIND_KEY:
                keys[rec.value] = rec.key  # type: ignore[index, assignment]
    return keys


def split_scalars(
    block: np.ndarray, keys: dict[int, str]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
    """Group a block by key: key -> (steps, values, times), in order. Stops before the first
    record whose key id is not defined yet, and returns how many records it used. Key id 0 marks
    a record that a failed write tore; it is dropped."""
    if len(block) == 0:
        return {}, 0
    ids = block["key"]
    defined = np.fromiter(keys, dtype=np.uint32, count=len(keys))
    known = np.isin(ids, defined) | (ids == TORN_KEY_ID)
    used = len(block) if known.all() else int(np.argmin(known))
    block = block[:used]
    ids = ids[:used]
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for kid in np.unique(ids):
        if kid == TORN_KEY_ID:
            continue
        part = block[ids == kid]
        out[keys[int(kid)]] = (part["step"], part["value"], part["ts"])
    return out, used


def read_writer(tracking_dir: Path, writer: str) -> tuple[list[Record], list[str]]:
    """Every record of one writer, both files merged in sequence order (scalars as kind "m").

    For tools and tests; live ingestion reads the two files incrementally instead."""
    lines, _ = read_complete_lines(tracking_dir / jsonl_name(writer), 0, 1 << 34)
    records, errors = parse_records(lines, jsonl_name(writer))
    keys = {int(r.value): str(r.key) for r in records if r.kind == KIND_KEY}  # type: ignore[call-overload]
    block, _ = read_scalar_block(tracking_dir / scalars_name(writer), 0, 1 << 28)
    for seq, kid, step, value, ts in block.tolist():
        if kid == TORN_KEY_ID:
            continue
        if kid not in keys:
            errors.append(f"{scalars_name(writer)}: record {seq} uses key id {kid}, which is not defined")
            continue
        records.append(_make(seq, KIND_SCALAR, keys[kid], value, step, ts, None))
    # A key definition shares the sequence number of the scalar it precedes: plumbing, left out.
    records = [r for r in records if r.kind != KIND_KEY]
    records.sort(key=lambda r: r.seq)
    return records, errors


def writers(tracking_dir: Path) -> list[str]:
    """The writer ids that have files in a tracking folder."""
    if not tracking_dir.is_dir():
        return []
    return sorted({p.stem for p in tracking_dir.iterdir() if p.suffix in (JSONL_SUFFIX, SCALARS_SUFFIX)})
