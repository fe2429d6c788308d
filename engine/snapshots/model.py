"""The frozen records a snapshot is made of, and their canonical JSON form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.snapshots.limits import SnapshotLimits

# Bumped when the manifest layout changes; part of the hashed body so ids never collide across formats.
MANIFEST_FORMAT = 1
# Each file is stored as an array in this order: half the encoding time of an object per file,
# which matters to the re-snapshot budget with 10,000 files.
FILE_FIELDS = ("path", "sha256", "size", "executable")


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a snapshot.

    Attributes:
        path: POSIX path relative to the snapshot root.
        sha256: Hex digest of the content (the blob's name).
        size: Size in bytes.
        executable: Whether the file had an executable bit (restored by ``materialize``).
    """

    path: str
    sha256: str
    size: int
    executable: bool


@dataclass(frozen=True)
class GitInfo:
    """Where the source folder stood in git when the snapshot was taken.

    Attributes:
        repository: Absolute path of the repository's working-tree root.
        branch: Checked-out branch, or None when HEAD is detached.
        commit: HEAD commit, or None in a repository without commits.
        dirty: Whether the working tree had any uncommitted change (untracked files included).
        remote: URL of the ``origin`` remote with any credentials removed, or None.
    """

    repository: str
    branch: str | None
    commit: str | None
    dirty: bool
    remote: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (keys in a fixed order)."""
        return {
            "branch": self.branch,
            "commit": self.commit,
            "dirty": self.dirty,
            "remote": self.remote,
            "repository": self.repository,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GitInfo:
        """Inverse of :meth:`to_dict`."""
        return cls(
            repository=str(data["repository"]),
            branch=data.get("branch"),
            commit=data.get("commit"),
            dirty=bool(data.get("dirty", False)),
            remote=data.get("remote"),
        )


@dataclass(frozen=True)
class SnapshotManifest:
    """What a snapshot holds. ``id`` is the sha256 of :meth:`canonical_body`.

    Attributes:
        id: Snapshot id (64 hex digits).
        source: Absolute path of the folder the snapshot was taken from.
        files: The files, sorted by path.
        total_bytes: Sum of the file sizes.
        file_count: Number of files.
        git: Git state of the folder, or None outside a repository (or without git).
        ignored: Paths left out by ignore rules (folders end with ``/``), sorted, at most
            ``IGNORED_LISTED`` of them.
        warnings: Why other files were left out (secrets, symlinks, unreadable files).
        ignored_count: How many paths ignore rules left out in all (may exceed ``len(ignored)``).
    """

    id: str
    source: str
    files: tuple[FileEntry, ...]
    total_bytes: int
    file_count: int
    git: GitInfo | None
    ignored: tuple[str, ...]
    warnings: tuple[str, ...]
    ignored_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, id included; ``files`` holds ``[path, sha256, size, executable]`` arrays."""
        body = _body_dict(self.source, self.files, self.git, self.ignored, self.ignored_count, self.warnings)
        body["id"] = self.id
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotManifest:
        """Inverse of :meth:`to_dict`; ``data`` must carry ``id``. Files may also be objects."""
        files = tuple(
            FileEntry(f["path"], f["sha256"], int(f["size"]), bool(f["executable"]))
            if isinstance(f, dict)
            else FileEntry(str(f[0]), str(f[1]), int(f[2]), bool(f[3]))
            for f in data["files"]
        )
        git = data.get("git")
        return cls(
            id=str(data["id"]),
            source=str(data["source"]),
            files=files,
            total_bytes=int(data.get("total_bytes", sum(f.size for f in files))),
            file_count=len(files),
            git=GitInfo.from_dict(git) if git else None,
            ignored=tuple(data.get("ignored", ())),
            warnings=tuple(data.get("warnings", ())),
            ignored_count=int(data.get("ignored_count", len(data.get("ignored", ())))),
        )

    def file(self, path: str) -> FileEntry | None:
        """The entry for ``path`` (POSIX, relative), or None."""
        for entry in self.files:
            if entry.path == path:
                return entry
        return None


@dataclass(frozen=True)
class SnapshotPreview:
    """What ``take`` would store, computed from a walk and stats only (nothing hashed or written).

    Attributes:
        source: Absolute path of the folder.
        file_count: Files that would be stored.
        total_bytes: Their total size.
        largest: Up to five ``(path, size)`` pairs, largest first.
        ignored: Paths left out by ignore rules (capped like the manifest's).
        ignored_count: How many paths ignore rules left out in all.
        warnings: Files left out for other reasons (secrets, symlinks).
        git: Git state, as the manifest would record it.
        limits: The limits the preview was checked against.
        over_limit_error: The message ``take`` would raise (``SnapshotTooLarge``), or None.
        over_limit_hint: The hint of that error, or None.
    """

    source: str
    file_count: int
    total_bytes: int
    largest: tuple[tuple[str, int], ...]
    ignored: tuple[str, ...]
    ignored_count: int
    warnings: tuple[str, ...]
    git: GitInfo | None
    limits: SnapshotLimits
    over_limit_error: str | None
    over_limit_hint: str | None

    @property
    def over_limit(self) -> bool:
        """Whether ``take`` would refuse this folder."""
        return self.over_limit_error is not None


def _body_dict(
    source: str,
    files: tuple[FileEntry, ...] | list[FileEntry],
    git: GitInfo | None,
    ignored: tuple[str, ...],
    ignored_count: int,
    warnings: tuple[str, ...],
) -> dict[str, Any]:
    # Keys are inserted in sorted order, so the canonical form needs no sort_keys pass.
    return {
        "file_count": len(files),
        "file_fields": list(FILE_FIELDS),
        "files": [[f.path, f.sha256, f.size, f.executable] for f in files],
        "format": MANIFEST_FORMAT,
        "git": git.to_dict() if git else None,
        "ignored": list(ignored),
        "ignored_count": ignored_count,
        "source": source,
        "total_bytes": sum(f.size for f in files),
        "warnings": list(warnings),
    }


def canonical_body(
    source: str,
    files: tuple[FileEntry, ...] | list[FileEntry],
    git: GitInfo | None,
    ignored: tuple[str, ...],
    ignored_count: int,
    warnings: tuple[str, ...],
) -> tuple[str, bytes]:
    """The manifest's canonical JSON (without id) and its sha256, which is the snapshot id."""
    body = _body_dict(source, files, git, ignored, ignored_count, warnings)
    # ASCII-only JSON: a file name that is not valid UTF-8 (kept by Python as lone surrogates)
    # survives the round trip as a \udcXX escape instead of making the encoding fail.
    data = json.dumps(body, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(data).hexdigest(), data
