"""The snapshot store: take, preview, load and restore snapshots.

Layout under the store root (``<workspace>/.trainyard/snapshots``)::

    blobs/ab/cdef...        file contents, named by sha256 (stored once however many snapshots use them)
    manifests/<id>.json     canonical manifest JSON; <id> is its sha256
    statcache/<hash>.json   per source folder: path -> (size, mtime, inode, sha256)

Every file is written to a temporary name in its final folder and renamed into place, so a
reader never sees a half-written blob or manifest. A manifest is written only after all its
blobs are, so an existing manifest means a complete snapshot. Like git (by default) the store
does not fsync: it survives a crashed process, not necessarily a power cut.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from engine.errors import InvalidSpec, NotFound, SnapshotTooLarge
from engine.snapshots import statcache
from engine.snapshots.blobs import BlobStore, write_atomic
from engine.snapshots.gitinfo import GitProbe
from engine.snapshots.limits import SnapshotLimits, largest_files, limit_error
from engine.snapshots.model import FileEntry, GitInfo, SnapshotManifest, SnapshotPreview, canonical_body
from engine.snapshots.walk import Scan, scan_tree

logger = logging.getLogger(__name__)

# How many ignored paths a manifest lists (the count is always exact).
IGNORED_LISTED = 1000
_ID_RE = re.compile(r"[0-9a-f]{64}")
_MANIFESTS_CACHED = 8


class SnapshotStore:
    """Snapshots of source folders, stored under ``root``. Safe to use from several threads.

    Args:
        root: The store folder, normally ``<workspace>/.trainyard/snapshots``; created on first write.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = BlobStore(self.root / "blobs")
        self._manifests = self.root / "manifests"
        self._statcache = self.root / "statcache"
        # Manifests never change once written, so loaded ones can be kept.
        self._loaded: OrderedDict[str, SnapshotManifest] = OrderedDict()
        self._loaded_lock = threading.Lock()

    # ------------------------------------------------------------------ taking snapshots
    def take(
        self,
        source_dir: Path | str,
        limits: SnapshotLimits | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> SnapshotManifest:
        """Snapshot ``source_dir`` and return its manifest.

        Files unchanged since the last snapshot of the same folder are not read again, and
        blobs already stored are not written again: snapshotting an unchanged folder returns
        the same id and writes nothing.

        Args:
            source_dir: The folder to snapshot.
            limits: Size limits; default ``SnapshotLimits.from_env()``.
            on_warning: Called with each warning (a file left out and why); default: logged.

        Raises:
            NotFound: ``source_dir`` does not exist or is not a folder.
            SnapshotTooLarge: The files to store exceed ``limits`` (checked before anything is stored).
            InvalidSpec: A limit environment variable is malformed.
        """
        source = _source_folder(source_dir)
        limits = limits or SnapshotLimits.from_env()
        with _gc_paused():
            manifest = self._take(source, limits)
        for warning in manifest.warnings:
            (on_warning or logger.warning)(warning)
        return manifest

    def _take(self, source: str, limits: SnapshotLimits) -> SnapshotManifest:
        scan, git = self._scan(source)
        error = _limit_error(scan, limits)
        if error is not None:
            raise error
        entries, from_cache, warnings = self._hash(scan)
        ignored = tuple(scan.ignored[:IGNORED_LISTED])
        snapshot_id, body = canonical_body(source, entries, git, ignored, len(scan.ignored), warnings)
        if not self._manifest_path(snapshot_id).exists():
            # A cached hash proves the blob was stored once, not that it still is (the store
            # may have been cleaned up since): store again any blob that went missing.
            for i, path in from_cache:
                entry = entries[i]
                if not self.blobs.has(entry.sha256):
                    digest, size = self.blobs.put_file(path, entry.size)
                    entries[i] = FileEntry(entry.path, digest, size, entry.executable)
            snapshot_id, body = canonical_body(source, entries, git, ignored, len(scan.ignored), warnings)
            write_atomic(str(self._manifest_path(snapshot_id)), body)
        return SnapshotManifest(
            id=snapshot_id,
            source=source,
            files=tuple(entries),
            total_bytes=sum(e.size for e in entries),
            file_count=len(entries),
            git=git,
            ignored=ignored,
            warnings=warnings,
            ignored_count=len(scan.ignored),
        )

    def _hash(self, scan: Scan) -> tuple[list[FileEntry], list[tuple[int, str]], tuple[str, ...]]:
        """Hashes of the scanned files, from the stat cache or by storing them.

        Returns the entries, ``(index, file to read)`` of the entries whose hash came from the
        cache (their blob was not looked at), and the warnings (scan's and unreadable files').
        """
        cache_file = statcache.cache_path(self._statcache, scan.source)
        cache = statcache.load(cache_file, scan.source)
        new_cache: statcache.Entries = {}
        files = scan.files
        hashes: list[tuple[str, int] | None] = [None] * len(files)  # None: could not be read
        cached_flags = bytearray(len(files))
        misses: list[int] = []
        for i, f in enumerate(files):
            cached = cache.get(f.rel)
            if cached is not None and cached[0] == f.size and cached[1] == f.mtime_ns and cached[2] == f.inode:
                hashes[i] = (str(cached[3]), f.size)
                cached_flags[i] = 1
                new_cache[f.rel] = cached  # it was trustworthy when cached
            else:
                misses.append(i)
        warnings = list(scan.warnings)
        trustworthy = statcache.trust_test(scan.started_ns)
        for i, stored in zip(misses, self.blobs.put_files([(files[i].path, files[i].size) for i in misses])):
            f = files[i]
            if isinstance(stored, OSError):
                warnings.append(f"{f.rel}: left out: it could not be read ({stored.strerror or stored})")
                continue
            hashes[i] = stored
            if trustworthy(f.mtime_ns):
                new_cache[f.rel] = [f.size, f.mtime_ns, f.inode, stored[0]]
        if misses or len(new_cache) != len(cache):
            statcache.save(cache_file, scan.source, new_cache)

        entries: list[FileEntry] = []
        from_cache: list[tuple[int, str]] = []
        for f, hashed, was_cached in zip(files, hashes, cached_flags):
            if hashed is not None:
                if was_cached:
                    from_cache.append((len(entries), f.path))
                entries.append(FileEntry(f.rel, hashed[0], hashed[1], f.executable))
        return entries, from_cache, tuple(sorted(warnings))

    def preview(self, source_dir: Path | str, limits: SnapshotLimits | None = None) -> SnapshotPreview:
        """What :meth:`take` would store, from a walk alone: nothing is hashed or written.

        Raises:
            NotFound: ``source_dir`` does not exist or is not a folder.
            InvalidSpec: A limit environment variable is malformed.
        """
        source = _source_folder(source_dir)
        limits = limits or SnapshotLimits.from_env()
        with _gc_paused():
            scan, git = self._scan(source)
        error = _limit_error(scan, limits)
        return SnapshotPreview(
            source=source,
            file_count=len(scan.files),
            total_bytes=scan.total_bytes,
            largest=tuple(largest_files([(f.rel, f.size) for f in scan.files])),
            ignored=tuple(scan.ignored[:IGNORED_LISTED]),
            ignored_count=len(scan.ignored),
            warnings=tuple(scan.warnings),
            git=git,
            limits=limits,
            over_limit_error=error.message if error else None,
            over_limit_hint=error.hint if error else None,
        )

    def _scan(self, source: str) -> tuple[Scan, GitInfo | None]:
        probe = GitProbe(source)  # git runs while the folder is walked
        try:
            scan = scan_tree(source, skip_dirs=frozenset({os.path.realpath(self.root)}))
            return scan, probe.result()
        finally:
            probe.close()

    # ------------------------------------------------------------------ reading snapshots
    def exists(self, snapshot_id: str) -> bool:
        """Whether a complete snapshot with this id is stored."""
        return bool(_ID_RE.fullmatch(snapshot_id)) and self._manifest_path(snapshot_id).is_file()

    def load(self, snapshot_id: str) -> SnapshotManifest:
        """The manifest of a stored snapshot.

        Raises:
            NotFound: No snapshot with this id is stored.
        """
        with self._loaded_lock:
            manifest = self._loaded.get(snapshot_id)
            if manifest is not None:
                self._loaded.move_to_end(snapshot_id)
                return manifest
        hint = "snapshot ids are the 64-hex-digit ids shown on a run's details"
        if not _ID_RE.fullmatch(snapshot_id):
            raise NotFound(f"no snapshot {snapshot_id!r}: a snapshot id is 64 lowercase hex digits", hint)
        try:
            raw = self._manifest_path(snapshot_id).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"snapshot {snapshot_id} is not in the store at {self.root}", hint) from None
        with _gc_paused():
            data = json.loads(raw)
            data["id"] = snapshot_id
            manifest = SnapshotManifest.from_dict(data)
        with self._loaded_lock:
            self._loaded[snapshot_id] = manifest
            if len(self._loaded) > _MANIFESTS_CACHED:
                self._loaded.popitem(last=False)
        return manifest

    def materialize(self, snapshot_id: str, dest: Path | str) -> None:
        """Copy the snapshot's files into ``dest`` (created if missing), restoring executable bits.

        Files are copied, never hard-linked: a run may modify its copy without touching the
        store. Files already in ``dest`` at the same paths are replaced.

        Raises:
            NotFound: No such snapshot, or one of its blobs is missing from the store.
            InvalidSpec: The manifest holds a path leading outside ``dest`` (it was edited).
        """
        manifest = self.load(snapshot_id)
        dest_dir = os.path.abspath(dest)
        os.makedirs(dest_dir, exist_ok=True)
        with os.scandir(dest_dir) as it:
            # Into a folder that already holds files, remove each target first so that a
            # symlink there is replaced rather than written through.
            replace_existing = any(True for _ in it)
        made = {dest_dir}
        for entry in manifest.files:
            target = os.path.join(dest_dir, *_safe_parts(entry.path))
            parent = os.path.dirname(target)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            if replace_existing and os.path.lexists(target):
                os.unlink(target)
            blob = self.blobs.path(entry.sha256)
            try:
                shutil.copyfile(blob, target)
            except FileNotFoundError:
                if os.path.exists(blob):
                    raise
                raise NotFound(
                    f"the content of {entry.path} (blob {entry.sha256}) is missing from {self.blobs.folder}",
                    hint="the snapshot store was changed outside Trainyard; submit the run again to re-snapshot",
                ) from None
            if entry.executable:
                mode = os.stat(target).st_mode
                os.chmod(target, mode | (mode & 0o444) >> 2)  # x wherever r is set, as `chmod +x`

    def file_text(self, snapshot_id: str, path: str | PurePath) -> bytes:
        """The content of one file of a snapshot (bytes: the file may not be text).

        Raises:
            NotFound: No such snapshot, or no such file in it.
        """
        manifest = self.load(snapshot_id)
        rel = path.as_posix() if isinstance(path, PurePath) else str(path)
        if os.sep == "\\":
            rel = rel.replace("\\", "/")
        rel = rel.removeprefix("./")
        entry = manifest.file(rel)
        if entry is None:
            raise NotFound(
                f"snapshot {snapshot_id[:12]} has no file {rel!r}",
                hint="paths are relative to the snapshot folder, with '/' separators",
            )
        with open(self.blobs.path(entry.sha256), "rb") as f:
            return f.read()

    def _manifest_path(self, snapshot_id: str) -> Path:
        return self._manifests / f"{snapshot_id}.json"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while many small, acyclic objects are made.

    A walk of 10,000 files allocates some 100,000 lists, tuples and records; the collections
    they trigger scan every object of the process (a studio holds hundreds of thousands), which
    measured as a third of a re-snapshot's time. Nothing made here forms reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _source_folder(source_dir: Path | str) -> str:
    path = Path(source_dir).expanduser()
    if not path.exists():
        raise NotFound(
            f"cannot snapshot {path}: the folder does not exist",
            hint=f"check the path; a relative path is taken from {Path.cwd()}",
        )
    if not path.is_dir():
        raise NotFound(
            f"cannot snapshot {path}: it is a file, not a folder",
            hint="pass the folder that holds your script (the job's `code:`), not the script itself",
        )
    return str(path.resolve())


def _limit_error(scan: Scan, limits: SnapshotLimits) -> SnapshotTooLarge | None:
    if len(scan.files) <= limits.max_files and scan.total_bytes <= limits.max_bytes:
        return None
    files = [(f.rel, f.size) for f in scan.files]
    return limit_error(scan.source, files, scan.total_bytes, limits, scan.root_ignore_file)


def _safe_parts(rel: str) -> list[str]:
    # Manifests are ours, but a hand-edited one must not write outside the destination.
    parts = rel.split("/")
    escapes = not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts)
    if os.sep != "/":  # on Windows a backslash or a drive letter would lead elsewhere too
        escapes = escapes or os.sep in rel or ":" in rel
    if escapes:
        raise InvalidSpec(f"snapshot manifest holds an unsafe path {rel!r}", hint="the manifest was edited")
    return parts
