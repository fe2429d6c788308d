"""What changed between two code snapshots: added, removed and changed files, with unified diffs.

Files are compared by content hash first, so only the changed ones are read and diffed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from engine.snapshots.model import FileEntry
from engine.snapshots.store import SnapshotStore

# Larger files are reported as changed without a line diff (difflib is quadratic at worst).
MAX_DIFF_BYTES = 1024 * 1024
CONTEXT_LINES = 3


@dataclass(frozen=True)
class FileChange:
    """One file that differs. ``diff`` is unified diff text; for a binary or huge file it is a
    one-line note instead (``binary`` is then True or the sizes tell why)."""

    path: str
    change: str  # added | removed | changed
    diff: str
    old_size: int | None = None
    new_size: int | None = None
    binary: bool = False
    added_lines: int = 0
    removed_lines: int = 0


@dataclass(frozen=True)
class SnapshotDiff:
    old_id: str
    new_id: str
    changes: tuple[FileChange, ...]  # sorted by path
    unchanged: int

    def paths(self, change: str) -> list[str]:
        return [c.path for c in self.changes if c.change == change]

    def get(self, path: str) -> FileChange | None:
        return next((c for c in self.changes if c.path == path), None)


def diff_snapshots(store: SnapshotStore, old_id: str, new_id: str, *,
                   context: int = CONTEXT_LINES) -> SnapshotDiff:
    """The changes from snapshot ``old_id`` to snapshot ``new_id``.

    Raises:
        NotFound: Either snapshot is not in the store.
    """
    old = {f.path: f for f in store.load(old_id).files}
    new = {f.path: f for f in store.load(new_id).files}
    changes: list[FileChange] = []
    unchanged = 0
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a is not None and b is not None and a.sha256 == b.sha256:
            unchanged += 1
            continue
        changes.append(_file_change(store, path, a, b, context))
    return SnapshotDiff(old_id, new_id, tuple(changes), unchanged)


def _file_change(store: SnapshotStore, path: str, a: FileEntry | None, b: FileEntry | None,
                 context: int) -> FileChange:
    change = "added" if a is None else "removed" if b is None else "changed"
    old_size, new_size = (a.size if a else None), (b.size if b else None)
    if max(a.size if a else 0, b.size if b else 0) > MAX_DIFF_BYTES:
        return FileChange(path, change, f"File {change}; too large to compare line by line.\n",
                          old_size=old_size, new_size=new_size)
    old_text = _text(store, a)
    new_text = _text(store, b)
    if old_text is None or new_text is None:
        return FileChange(path, change, f"Binary file {change}.\n", binary=True,
                          old_size=old_size, new_size=new_size)
    lines = list(difflib.unified_diff(
        old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
        fromfile="/dev/null" if a is None else f"a/{path}",
        tofile="/dev/null" if b is None else f"b/{path}",
        n=context,
    ))
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    # A last line without a newline would run into the next diff line.
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return FileChange(path, change, text, added_lines=added, removed_lines=removed,
                      old_size=old_size, new_size=new_size)


def _text(store: SnapshotStore, entry: FileEntry | None) -> str | None:
    """The file's text ('' when absent), or None when it is not UTF-8 text."""
    if entry is None:
        return ""
    with open(store.blobs.path(entry.sha256), "rb") as f:
        return as_text(f.read())


def as_text(data: bytes) -> str | None:
    """``data`` decoded as UTF-8, or None when it looks binary (a NUL byte, invalid UTF-8)."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
