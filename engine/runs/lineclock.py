"""When each line of a run's driver log was written, for the Logs tab's timestamps.

The script writes its output straight into the driver log (no pipe through the supervisor, so a
supervisor that dies loses nothing), so no line carries a time of its own. Instead the
supervisor, on each of its polls (every 0.1 s), notes how far the log had grown and when:
`driver_log.times` in the run folder holds lines ``END_OFFSET UNIX_TIME``, meaning the bytes up
to END_OFFSET had been written by UNIX_TIME. A line's time is that of the first entry whose end
lies past the line's first byte: the time it was first seen, within one poll of when it was
written (for SSH and Slurm runs, the time its copy arrived here). A replacement supervisor goes
on from the last entry. No Qt here: the studio reads the file with `LineTimes`.
"""

from __future__ import annotations

import bisect
import os
import time
from pathlib import Path

__all__ = ["LineClock", "LineTimes"]


class LineClock:
    """The supervisor's side: `poll()` appends an entry when the driver log has grown."""

    def __init__(self, log: Path, times: Path) -> None:
        self.log = log
        self.times = times
        self.seen = LineTimes.read(times).end  # where a previous supervisor stopped noting

    def poll(self, now: float | None = None) -> bool:
        try:
            size = self.log.stat().st_size
        except FileNotFoundError:
            return False
        if size <= self.seen:
            return False
        with open(self.times, "a") as f:
            f.write(f"{size} {time.time() if now is None else now:.3f}\n")
        self.seen = size
        return True


class LineTimes:
    """The reader's side: the entries of a `driver_log.times`, read (`refresh`) as it grows."""

    def __init__(self, times: Path) -> None:
        self.path = times
        self.ends: list[int] = []
        self.stamps: list[float] = []
        self._read = 0  # bytes of the file parsed so far (whole lines only)

    @classmethod
    def read(cls, times: Path) -> LineTimes:
        """The entries written so far."""
        reader = cls(times)
        reader.refresh()
        return reader

    @property
    def end(self) -> int:
        return self.ends[-1] if self.ends else 0

    def refresh(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._read)
                data = f.read()
        except FileNotFoundError:
            return
        cut = data.rfind(b"\n") + 1  # a line being written is read next time
        for line in data[:cut].split(b"\n"):
            parts = line.split()
            if len(parts) == 2:
                try:
                    end, stamp = int(parts[0]), float(parts[1])
                except ValueError:
                    continue
                if end > self.end:
                    self.ends.append(end)
                    self.stamps.append(stamp)
        self._read += cut

    def at(self, offset: int) -> float | None:
        """When the byte at `offset` of the log was first seen (None: not noted yet)."""
        i = bisect.bisect_right(self.ends, offset)
        return self.stamps[i] if i < len(self.stamps) else None

    def exists(self) -> bool:
        return os.path.exists(self.path)
