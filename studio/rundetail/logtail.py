"""Reading a growing log file incrementally, UTF-8 safe. No Qt."""

from __future__ import annotations

import codecs
from pathlib import Path

# On first open, a huge log is shown from this many bytes before its end.
FIRST_READ_MAX = 2 * 1024 * 1024
# At most this much new text per refresh, so a flood of output cannot stall the GUI.
READ_MAX = 4 * 1024 * 1024


class LogTail:
    """`read()` returns the text appended since the previous call ('' when nothing is new)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._started = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self) -> str:
        try:
            size = self.path.stat().st_size
        except OSError:
            return ""
        prefix = ""
        if not self._started:
            self._started = True
            if size > FIRST_READ_MAX:
                self.offset = size - FIRST_READ_MAX
                prefix = (f"[… {self.offset:,} earlier bytes not shown; the whole log is "
                          f"{self.path}]\n")
        if size < self.offset:  # truncated or replaced: start over
            self.offset = 0
            self._decoder.reset()
        if size == self.offset:
            return prefix
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(min(size - self.offset, READ_MAX))
        self.offset += len(data)
        text = self._decoder.decode(data)
        if prefix:
            # Drop the partial first line we started in the middle of.
            cut = text.find("\n")
            text = text[cut + 1:] if cut >= 0 else text
        return prefix + text
