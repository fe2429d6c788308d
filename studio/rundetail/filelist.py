"""What the Outputs tab reads, off the GUI thread: the files under a run's outputs/ and logs/,
and the start of one file for its preview. No Qt in this module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.snapshots.diff import as_text

TOPS = ("outputs", "logs")
MAX_LISTED = 5000
TEXT_PREVIEW_BYTES = 512 * 1024
IMAGE_PREVIEW_BYTES = 64 * 1024 * 1024
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"})


@dataclass(frozen=True)
class RunFile:
    rel: str  # relative to the run folder, '/'-separated: outputs/model.pt
    size: int
    mtime: float


@dataclass(frozen=True)
class FilePreview:
    kind: str  # text | image | binary | large
    size: int
    text: str = ""
    truncated: bool = False
    data: bytes = b""  # the image file's bytes


def list_run_files(root: Path, tops: tuple[str, ...] = TOPS, limit: int = MAX_LISTED) -> list[RunFile]:
    found: list[RunFile] = []
    for top in tops:
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirs, names in os.walk(base):
            dirs.sort()
            for n in sorted(names):
                p = Path(dirpath, n)
                try:
                    st = p.stat()
                except OSError:
                    continue
                found.append(RunFile(p.relative_to(root).as_posix(), st.st_size, st.st_mtime))
                if len(found) >= limit:
                    return found
    return found


def read_preview(path: Path) -> FilePreview:
    size = path.stat().st_size
    if path.suffix.lower() in IMAGE_SUFFIXES:
        if size > IMAGE_PREVIEW_BYTES:
            return FilePreview("large", size)
        return FilePreview("image", size, data=path.read_bytes())
    with open(path, "rb") as f:
        head = f.read(TEXT_PREVIEW_BYTES)
    truncated = size > len(head)
    if truncated:
        # Cut at the last whole line so a multi-byte character is never split.
        cut = head.rfind(b"\n")
        head = head[:cut + 1] if cut > 0 else head
    text = as_text(head)
    if text is None:
        return FilePreview("binary", size)
    return FilePreview("text", size, text=text, truncated=truncated)
