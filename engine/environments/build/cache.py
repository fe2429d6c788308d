"""The build cache: one folder per spec hash, a marker that says it is complete, a lock per hash.

Layout under ``cache_root``::

    <hash>/               a finished build (the env prefix is <hash>/env)
    <hash>/.complete      JSON marker, written last: kind, interpreter, image, prefix, created, spec
    <hash>.tmp-<pid>/     a build in progress; renamed to <hash>/ when done, removed on failure
    <hash>.lock           fcntl lock file: one build of a hash at a time, across processes
    <hash>.inuse          shared fcntl locks, one per run using the build (hold_in_use): prune
                          skips a build any run of any workspace holds
    uv-cache/             uv's wheel cache (same filesystem as the envs, so installs hardlink)
    conda-pkgs/           rattler's package cache

A folder ``<hash>/`` without a marker or a ``.tmp-*`` folder is what a killed build left; it is
removed (under the lock) before the next build of that hash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = ".complete"
HASH_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CacheEntry:
    spec_hash: str
    root: Path

    @property
    def dir(self) -> Path:
        return self.root / self.spec_hash

    @property
    def prefix(self) -> Path:
        return self.dir / "env"

    @property
    def marker(self) -> Path:
        return self.dir / MARKER

    @property
    def lock_path(self) -> Path:
        return self.root / f"{self.spec_hash}.lock"

    def tmp_dir(self) -> Path:
        return self.root / f"{self.spec_hash}.tmp-{os.getpid()}"

    def read_marker(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove_leftovers(self) -> None:
        """Remove what killed builds of this hash left (call with the lock held)."""
        for tmp in self.root.glob(f"{self.spec_hash}.tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
        if self.dir.exists() and not self.marker.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    def invalidate(self) -> None:
        """Forget a cached build whose result is gone (call with the lock held)."""
        with contextlib.suppress(FileNotFoundError):
            self.marker.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_marker(folder: Path, data: dict[str, Any]) -> None:
    """Write the marker atomically (a reader never sees half a file)."""
    data = {**data, "created": dt.datetime.now(dt.UTC).isoformat()}
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, folder / MARKER)


@contextlib.contextmanager
def hash_lock(entry: CacheEntry, on_wait: Callable[[], None] | None = None,
              blocking: bool = True) -> Iterator[bool]:
    """Hold ``<hash>.lock`` exclusively. If another process (or thread) holds it, call ``on_wait``
    once, then wait. With ``blocking=False`` yields False at once instead of waiting."""
    entry.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(entry.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not blocking:
                yield False
                return
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def hold_in_use(cache_root: Path, spec_hash: str) -> int:
    """Mark build `spec_hash` in use until this process exits (or closes the returned fd): the
    cache is shared by every workspace, and a workspace's store knows only its own runs."""
    cache_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(cache_root / f"{spec_hash}.inuse", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _in_use_elsewhere(cache_root: Path, spec_hash: str) -> bool:
    try:
        fd = os.open(cache_root / f"{spec_hash}.inuse", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def folder_size(path: Path) -> int:
    """Bytes in the files under `path` (hard links counted once, symlinks not followed)."""
    total, seen = 0, set()
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def cached_hashes(cache_root: Path) -> set[str]:
    """Every hash with something in the cache (complete, half-built or just a lock file)."""
    found: set[str] = set()
    if not cache_root.is_dir():
        return found
    for p in cache_root.iterdir():
        name = p.name.split(".", 1)[0]
        if HASH_RE.match(name):
            found.add(name)
    return found


def prune(cache_root: Path, keep: set[str] | None = None) -> list[str]:
    """Remove every cached build whose hash is not in ``keep`` (all of them when None); a build that
    is running right now (its lock is held), or that a run uses (hold_in_use), is left alone.
    Returns the removed hashes, sorted."""
    cache_root = Path(cache_root)
    keep = keep or set()
    removed: list[str] = []
    for h in sorted(cached_hashes(cache_root) - keep):
        entry = CacheEntry(h, cache_root)
        if _in_use_elsewhere(cache_root, h):
            continue
        with hash_lock(entry, blocking=False) as got:
            if not got:
                continue
            had_build = entry.dir.exists() or any(cache_root.glob(f"{h}.tmp-*"))
            entry.remove_leftovers()
            shutil.rmtree(entry.dir, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                entry.lock_path.unlink()
            with contextlib.suppress(FileNotFoundError):
                (cache_root / f"{h}.inuse").unlink()
        if had_build:
            removed.append(h)
    return removed
