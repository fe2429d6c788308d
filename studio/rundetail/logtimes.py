"""The Logs tab's "Times" column: when each shown line of the driver log was written, from the
supervisor's notes (engine.runs.lineclock). No Qt here.

The tab appends text to a document that drops its oldest lines past a maximum; `ShownLineTimes`
keeps each appended line's byte offset, so that line n of the document is
`offsets[dropped + n]`, and the clock's entries read so far.
"""

from __future__ import annotations

import bisect
import datetime as dt
from array import array
from collections.abc import Sequence

NOT_SHOWN = -1  # a line that is not the log's (the notice of earlier bytes not shown)


class ShownLineTimes:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._offsets = array("q")
        self._ends: list[int] = []
        self._stamps: list[float] = []

    def extend(self, line_offsets: Sequence[int | None], ends: Sequence[int], stamps: Sequence[float]) -> None:
        """Lines just appended (their byte offsets), and clock entries read since the last call."""
        self._offsets.extend(NOT_SHOWN if o is None else o for o in line_offsets)
        for end, stamp in zip(ends, stamps, strict=True):
            if not self._ends or end > self._ends[-1]:
                self._ends.append(end)
                self._stamps.append(stamp)

    def keep_last(self, lines: int) -> None:
        """Forget the offsets of lines the document no longer holds (it keeps `lines`)."""
        if len(self._offsets) > 2 * lines:
            del self._offsets[: len(self._offsets) - lines]

    def offset_of(self, block: int, block_count: int) -> int | None:
        """The byte offset in the log of document line `block` (of `block_count` still shown)."""
        index = len(self._offsets) - block_count + block
        if not 0 <= index < len(self._offsets) or self._offsets[index] == NOT_SHOWN:
            return None
        return self._offsets[index]

    def blocks_between(self, start: int, end: int, block_count: int) -> range:
        """The document lines that begin at a byte offset in [start, end)."""
        first = len(self._offsets) - block_count
        lo = bisect.bisect_left(self._offsets, start, lo=max(first, 0))  # offsets rise (NOT_SHOWN only leads)
        hi = bisect.bisect_left(self._offsets, end, lo=lo)
        return range(lo - first, hi - first)

    def time_of(self, block: int, block_count: int) -> float | None:
        """When document line `block` (of `block_count` still shown) was written, if noted."""
        offset = self.offset_of(block, block_count)
        if offset is None:
            return None
        i = bisect.bisect_right(self._ends, offset)
        return self._stamps[i] if i < len(self._stamps) else None

    def label(self, block: int, block_count: int) -> str:
        t = self.time_of(block, block_count)
        return "" if t is None else dt.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-5]
