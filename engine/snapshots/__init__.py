"""Code snapshots: content-addressed copies of a run's source folder, taken at submit time.

Identical files are stored once (blobs named by sha256); a snapshot is a manifest whose id is
the sha256 of its canonical JSON, so snapshotting an unchanged folder gives the same id and
stores nothing. ``.amlignore`` (else ``.gitignore``) rules apply in every folder, secret-looking
files and symlinks leading outside are left out with a warning, and a size limit (Azure ML's:
300 MB or 2,000 files) is checked before anything is stored.
"""

from engine.snapshots.limits import SnapshotLimits
from engine.snapshots.model import FileEntry, GitInfo, SnapshotManifest, SnapshotPreview
from engine.snapshots.store import SnapshotStore

__all__ = [
    "FileEntry",
    "GitInfo",
    "SnapshotLimits",
    "SnapshotManifest",
    "SnapshotPreview",
    "SnapshotStore",
]
