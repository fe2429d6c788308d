"""Which bytes of a driver log a process wrote to stderr, for the Logs tab's stderr colour.

A run's stdout and stderr go into one file, in the order they were written (both streams are the
same open file, so nothing can reorder them). What the file cannot say is which stream wrote a
line, so the in-run ``sitecustomize`` notes it: every write a Python process makes to
``sys.stderr`` appends a line ``START END`` (the byte range it landed on) to the log's marks file,
``.<log name>.stderr`` beside the log. Tracebacks, warnings, ``logging``'s default handler and
progress bars all write there. Bytes written to file descriptor 2 by native code or by programs
that are not Python are not marked, and neither is anything of a Docker run (its output reaches
the log through Docker's log stream, not a file the script writes).

The marks of a log copied from an SSH host or a Slurm cluster are translated to the copy's
offsets as they are copied (`translate`), since the copy may hold lines of Trainyard's own.
No Qt here: the studio reads a marks file with `StderrMarks`.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["StderrMarks", "is_driver_log", "mark_of", "marks_lines", "marks_name", "marks_path", "parse_marks",
           "translate"]

MARKS_SUFFIX = ".stderr"


def is_driver_log(name: str) -> bool:
    """A log the in-run client marks: a run's driver log or a rank's, or an SSH host's copy of one
    (the same test as the in-run sitecustomize's)."""
    return name == "driver.log" or (name.startswith("70_driver_log") and name.endswith(".txt"))


def marks_name(log_name: str) -> str:
    """The name of the marks file of the log named `log_name` (beside it)."""
    return f".{log_name}{MARKS_SUFFIX}"


def marks_path(log: Path) -> Path:
    return log.with_name(marks_name(log.name))


def mark_of(line: bytes) -> tuple[int, int] | None:
    """One marks line's range (None: not a mark)."""
    parts = line.split()
    if len(parts) != 2:
        return None
    try:
        start, end = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return (start, end) if end > start >= 0 else None


def marks_lines(ranges: Iterable[tuple[int, int]]) -> bytes:
    """`ranges` as a marks file's lines (what the in-run sitecustomize writes)."""
    return b"".join(b"%d %d\n" % r for r in ranges)


def parse_marks(data: bytes) -> tuple[list[tuple[int, int]], int]:
    """The whole lines of `data` as (start, end) ranges, and how many bytes they took (a line
    still being written is left for the next read)."""
    cut = data.rfind(b"\n") + 1
    marks = (mark_of(line) for line in data[:cut].split(b"\n"))
    return [m for m in marks if m is not None], cut


def translate(ranges: Iterable[tuple[int, int]], segments: list[list[int]]) -> list[tuple[int, int]]:
    """Ranges of a remote log in its local copy's offsets. `segments` are the copied pieces as
    [remote_start, local_start, length]; a range outside them (not copied yet) is left out."""
    starts = [s[0] for s in segments]
    out = []
    for start, end in ranges:
        i = bisect.bisect_right(starts, start) - 1
        if i < 0:
            continue
        remote, local, length = segments[i]
        if end <= remote + length:
            out.append((local + start - remote, local + end - remote))
    return out


class StderrMarks:
    """The reader's side: the marked ranges of one log, merged, read (`refresh`) as they grow."""

    def __init__(self, log: Path) -> None:
        self.path = marks_path(log)
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._read = 0

    def refresh(self) -> list[tuple[int, int]]:
        """Reads what was added; returns the new ranges."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._read)
                data = f.read()
        except FileNotFoundError:
            return []
        ranges, used = parse_marks(data)
        self._read += used
        for start, end in ranges:
            self.add(start, end)
        return ranges

    def add(self, start: int, end: int) -> None:
        # Mostly appends (one process writes in order); ranks and forked workers may interleave.
        i = bisect.bisect_right(self.starts, start)
        if i and self.ends[i - 1] >= start:  # touches the range before: grow that one
            i -= 1
            start = self.starts[i]
            end = max(end, self.ends[i])
            del self.starts[i], self.ends[i]
        j = i
        while j < len(self.starts) and self.starts[j] <= end:  # swallows the ranges it reaches
            end = max(end, self.ends[j])
            j += 1
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def covers(self, offset: int) -> bool:
        """Whether the byte at `offset` was written to stderr."""
        i = bisect.bisect_right(self.starts, offset) - 1
        return i >= 0 and offset < self.ends[i]

    def exists(self) -> bool:
        return os.path.exists(self.path)
