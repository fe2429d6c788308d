"""Per-source-folder cache of file hashes, so unchanged files are not read again.

A file is taken as unchanged when its size, mtime (ns) and inode match the cached ones.
As in git's "racily clean" rule, a hash is only cached for a file whose mtime is clearly older
than the walk that read it: a file rewritten within the same timestamp tick right after being
hashed would otherwise keep its old hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from engine.snapshots.blobs import write_atomic

_VERSION = 1
# Margin between a file's mtime and the walk's start for its hash to be trusted next time.
# Nanosecond file systems stamp from a coarse clock (a few ms); 1 s/2 s ones need whole seconds.
_FINE_MARGIN_NS = 50_000_000
_COARSE_MARGIN_NS = 2_000_000_000

# rel path -> [size, mtime_ns, inode, sha256]
Entries = dict[str, list[int | str]]


def cache_path(cache_dir: Path, source: str) -> Path:
    """Where the cache of ``source`` (an absolute path) lives."""
    return cache_dir / (hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")


def load(path: Path, source: str) -> Entries:
    """The cached entries, or an empty cache when missing, unreadable or from another version."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION or data.get("source") != source:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def save(path: Path, source: str, entries: Entries) -> None:
    """Write the cache atomically (a reader sees the old or the new file, never a torn one)."""
    data = json.dumps({"version": _VERSION, "source": source, "entries": entries}, separators=(",", ":"))
    write_atomic(str(path), data.encode("utf-8"))


def trust_test(walk_started_ns: int) -> Callable[[int], bool]:
    """A test of whether the hash of a file with a given mtime, read by this walk, may be reused."""
    fine_before = walk_started_ns - _FINE_MARGIN_NS
    coarse_before = walk_started_ns - _COARSE_MARGIN_NS

    def trustworthy(mtime_ns: int) -> bool:
        # A whole-second mtime suggests a file system with coarse timestamps.
        return mtime_ns < (coarse_before if mtime_ns % 1_000_000_000 == 0 else fine_before)

    return trustworthy
