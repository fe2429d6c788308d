"""Content of a file or folder: one hash over the files' paths and bytes, and copies of it in
the workspace's content store (blobs by sha256, engine.snapshots.blobs) materialized as read-only
hard links, so versions that share files share their bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.snapshots.blobs import BlobStore

__all__ = ["Content", "copy_tree", "digest_of", "store_and_materialize"]

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Content:
    digest: str  # sha256 over "relpath\0file sha256\0size\n" lines, sorted by path
    size: int
    file_count: int


def _files(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(path.name, path)]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_file():
                found.append((full.relative_to(path).as_posix(), full))
    return sorted(found)


def _file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _combine(entries: list[tuple[str, str, int]]) -> Content:
    h = hashlib.sha256()
    for rel, digest, size in entries:
        h.update(f"{rel}\0{digest}\0{size}\n".encode())
    return Content(h.hexdigest(), sum(e[2] for e in entries), len(entries))


def digest_of(path: Path) -> Content:
    """The content of a file or folder (symlinks to files are followed)."""
    return _combine([(rel, *_file_digest(full)) for rel, full in _files(path)])


def store_and_materialize(src: Path, blobs_dir: Path, dest: Path) -> Content:
    """Store `src`'s files as blobs and build `dest` (a file or folder named like `src`) from
    them as read-only hard links (copies where links are not possible). Returns the content."""
    blobs = BlobStore(blobs_dir)
    entries = []
    files = _files(src)
    for rel, full in files:
        digest, size = blobs.put_file(str(full), full.stat().st_size)
        entries.append((rel, digest, size))
        blob = blobs.path(digest)
        os.chmod(blob, 0o444)
        target = dest if src.is_file() else dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(blob, target)
        except OSError:
            shutil.copyfile(blob, target)
            os.chmod(target, 0o444)
    if src.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
    return _combine(entries)


def copy_tree(src: Path, dest: Path) -> None:
    """A private, writable copy of a file or folder (download mode)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True, copy_function=_copy_writable)
    else:
        _copy_writable(str(src), str(dest))


def _copy_writable(src: str, dst: str) -> str:
    shutil.copyfile(src, dst)  # contents only: a registered asset's read-only bits stay behind
    os.chmod(dst, 0o644)
    return dst
