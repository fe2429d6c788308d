"""Reading a growing log file incrementally, UTF-8 safe, and finding a run's log files. No Qt."""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

# On first open, a huge log is shown from this many bytes before its end.
FIRST_READ_MAX = 2 * 1024 * 1024
# At most this much new text per refresh, so a flood of output cannot stall the GUI.
READ_MAX = 4 * 1024 * 1024


class LogTail:
    """`read()` returns the text appended since the previous call ('' when nothing is new), and
    sets `line_offsets`: the byte offset in the file of each line the text begins (None for the
    notice of bytes not shown), one per text block a viewer gets by appending the texts to a
    document that starts with one empty line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._started = False
        self.behind = False
        self.line_offsets: list[int | None] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self) -> str:
        self.line_offsets = []
        try:
            size = self.path.stat().st_size
        except OSError:
            return ""
        prefix = ""
        first = not self._started
        if first:
            self._started = True
            if size > FIRST_READ_MAX:
                self.offset = size - FIRST_READ_MAX
                prefix = (f"[… {self.offset:,} earlier bytes not shown; the whole log is "
                          f"{self.path}]\n")
        if size < self.offset:  # truncated or replaced: start over
            self.offset = 0
            self._decoder.reset()
        if size == self.offset:
            if prefix:
                self.line_offsets = [None, None]
            elif first:
                self.line_offsets = [0]
            return prefix
        start = self.offset - len(self._decoder.getstate()[0])  # the first character's byte
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(min(size - self.offset, READ_MAX))
        self.offset += len(data)
        self.behind = self.offset < size  # more is waiting: read again soon
        text = self._decoder.decode(data)
        if prefix:
            # Drop the partial first line we started in the middle of.
            cut = text.find("\n")
            if cut >= 0:
                start += len(text[:cut + 1].encode("utf-8", "replace"))
                text = text[cut + 1:]
            self.line_offsets = [None, start]
        elif first:
            self.line_offsets = [start]
        self.line_offsets += _line_starts(text, start)
        return prefix + text


def _line_starts(text: str, start: int) -> list[int | None]:
    """The byte offsets of the lines that begin after each newline of `text` (which begins at
    byte `start`)."""
    if text.isascii():  # a byte per character
        return [start + m.end() for m in re.finditer("\n", text)]
    starts: list[int | None] = []
    pos, at = start, 0
    while (nl := text.find("\n", at)) >= 0:
        pos += len(text[at:nl + 1].encode("utf-8", "replace"))
        starts.append(pos)
        at = nl + 1
    return starts


@dataclass(frozen=True)
class LogSource:
    rel: str  # path relative to the run folder
    label: str  # what the source picker shows


BUILD_LOG_REL = "azureml-logs/20_image_build_log.txt"
DRIVER_LOG_REL = "azureml-logs/70_driver_log.txt"
SUPERVISOR_LOG_REL = "supervisor.log"
_LABELS = {
    BUILD_LOG_REL: "Image build log",
    DRIVER_LOG_REL: "Driver log (stdout and stderr)",
    SUPERVISOR_LOG_REL: "Supervisor log",
}


def find_log_sources(root: Path) -> list[LogSource]:
    """The run's logs in the order a user reads them: the environment build, the script's output,
    its own ./logs files, other system logs, then the supervisor's diagnostics. The driver log is
    always listed (it appears once the script starts)."""
    rels = [DRIVER_LOG_REL]
    if (root / BUILD_LOG_REL).is_file():
        rels.insert(0, BUILD_LOG_REL)
    for folder in ("logs", "azureml-logs"):
        base = root / folder
        if base.is_dir():
            for dirpath, dirs, names in os.walk(base):
                dirs.sort()
                # dotfiles are Trainyard's notes on a log (its stderr marks), not logs
                rels += [str(Path(dirpath, n).relative_to(root)) for n in sorted(names) if not n.startswith(".")]
    if (root / SUPERVISOR_LOG_REL).is_file():
        rels.append(SUPERVISOR_LOG_REL)
    seen: set[str] = set()
    sources = []
    for rel in rels:
        if rel not in seen:
            seen.add(rel)
            sources.append(LogSource(rel, _label(rel)))
    return sources


def _label(rel: str) -> str:
    rank = re.fullmatch(r"azureml-logs/70_driver_log_(?:(worker|ps)_)?(\d+)\.txt", rel)
    if rank:  # a distributed run's processes (Trainyard's own lines stay in the driver log)
        return f"Driver log, {rank.group(1) or 'rank'} {rank.group(2)}"
    return _LABELS.get(rel, rel)
