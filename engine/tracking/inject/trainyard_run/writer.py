"""One process's record files: encodes buffered records (``recordformat``) and appends them."""

import json
import math
import os
import struct
from itertools import count

from .recordformat import FILES_DIR, KIND_KEY, SCALAR_RECORD, jsonl_name, scalars_name

# `typing` is not imported at run time (the client loads as little as it can).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    # A buffered record: (key, value, step, ts) for a scalar, (None, kind, JSON body, None) for the
    # others. One loose 4-tuple, so that the hot path appends it without building anything else.
    BufferedRecord = tuple[Any, Any, Any, Any]  # novermin - for mypy only

__all__ = ["RecordWriter"]

_NO_KEY = object()


class _PartialWrite(Exception):
    """An OSError after `written` bytes went out: the caller marks the file torn, then re-raises."""

    def __init__(self, error: "OSError", written: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.written = written


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    written = 0
    try:
        while written < len(view):
            written += os.write(fd, view[written:])
    except OSError as exc:
        raise _PartialWrite(exc, written) from None


class RecordWriter:
    """The writer ``<pid>-<8 hex>`` of one process: its ``.jsonl`` and ``.scalars`` files and the
    files it stores. The live run calls ``write`` under its lock."""

    def __init__(self, tracking_dir: str) -> None:
        self.tracking_dir = tracking_dir
        self.id = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.path = os.path.join(tracking_dir, jsonl_name(self.id))
        self._fd: "int | None" = None
        self._bin_path = os.path.join(tracking_dir, scalars_name(self.id))
        self._bin_fd: "int | None" = None
        self._bin_torn = 0  # bytes of a partial record a failed write left in the binary file
        self._key_ids: "dict[str, int]" = {}  # key -> id in this writer's files (defined by a "k" line)
        self._seq = 0
        self._torn = False  # a failed write left a partial line at the end of the file
        self._file_counter = count(1)

    def close(self) -> None:
        """Close the files (in a forked child, whose parent still owns them)."""
        for fd in (self._fd, self._bin_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def write(self, chunk: "list[BufferedRecord]") -> None:
        """Append records: (key, value, step, ts) scalars and (None, kind, JSON body, None) others."""
        seq = self._seq
        key_ids = self._key_ids
        pack = SCALAR_RECORD.pack
        out: "list[str]" = []
        add = out.append
        scalars: "list[bytes]" = []
        add_scalar = scalars.append
        last: object = _NO_KEY  # not None: None marks the non-scalar records
        kid: "int | None" = 0
        for name, value, step, ts in chunk:
            seq += 1
            if name is not last:  # consecutive records mostly share their key object
                if name is None:  # (None, kind, JSON body, None): not a scalar
                    add(f'[{seq},"{value}"{step}]\n')
                    continue
                kid = key_ids.get(name)
                if kid is None:
                    kid = key_ids[name] = len(key_ids) + 1
                    # The definition shares the sequence number of the record it precedes.
                    add(f'[{seq},"{KIND_KEY}",{kid},{json.dumps(name)}]\n')
                last = name
            try:
                add_scalar(pack(seq, kid, step, value, ts))
            except (OverflowError, struct.error):  # an int beyond float range, or a huge step
                add_scalar(pack(seq, kid, max(min(step, 2**63 - 1), -(2**63)),
                                math.copysign(math.inf, value), ts))
        self._seq = seq
        if out:
            data = "".join(out).encode("utf-8")
            if self._torn:
                data = b"\n" + data  # end the partial line a failed write left, so later lines parse
                self._torn = False
            self._write(data)
        if scalars:
            data = b"".join(scalars)
            if self._bin_torn:
                # Complete the torn record with zeros: the reader drops it (its key id is 0).
                data = bytes(SCALAR_RECORD.size - self._bin_torn) + data
                self._bin_torn = 0
            self._write_scalars(data)

    def _write_scalars(self, data: bytes) -> None:
        if self._bin_fd is None:
            self._bin_fd = self._open_append(self._bin_path)
        try:
            _write_all(self._bin_fd, data)
        except _PartialWrite as exc:
            self._bin_torn = exc.written % SCALAR_RECORD.size
            raise exc.error from None

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._fd = self._open_append(self.path)
        try:
            _write_all(self._fd, data)
        except _PartialWrite as exc:
            if exc.written:
                self._torn = True
            raise exc.error from None

    def _open_append(self, path: str) -> int:
        os.makedirs(self.tracking_dir, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        return os.open(path, flags, 0o644)

    def store_file(self, base: str, write: object) -> str:
        """Write a file into ``<tracking_dir>/files/`` (temp + rename) and return ``files/<name>``."""
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[-100:] or "file"
        stored = f"{self.id}-{next(self._file_counter)}-{safe}"
        folder = os.path.join(self.tracking_dir, FILES_DIR)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, ".tmp-" + stored)
        try:
            write(tmp)  # type: ignore[operator]
            os.replace(tmp, os.path.join(folder, stored))  # complete before its record is written
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return FILES_DIR + "/" + stored
