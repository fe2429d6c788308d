"""One pass over a source folder: which files a snapshot takes, their stats, and what is left out.

The walk uses ``os.scandir`` (file types come with the listing, so only kept files cost a
``stat``), prunes ignored folders instead of descending into them, and matches paths only
against ignore files that exist above them.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from operator import attrgetter

from engine.snapshots.ignore import IGNORE_FILES, IgnoreLevel, load_ignore_file, make_matcher, secret_reason

# Never part of a snapshot: version-control internals and Trainyard's own folder.
ALWAYS_EXCLUDED = frozenset({".git", ".trainyard"})


@dataclass(slots=True)
class ScannedFile:
    """A file the snapshot will hold; ``path`` is what to read (a symlink's resolved target)."""

    rel: str
    path: str
    size: int
    mtime_ns: int
    inode: int
    executable: bool


@dataclass
class Scan:
    """Result of :func:`scan_tree`; ``files`` sorted by ``rel``."""

    source: str
    started_ns: int
    files: list[ScannedFile] = field(default_factory=list)
    total_bytes: int = 0
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    root_ignore_file: str | None = None


def scan_tree(source: str, skip_dirs: frozenset[str] = frozenset()) -> Scan:
    """Walk ``source`` (an absolute, resolved folder path).

    ``skip_dirs`` are absolute folder paths never entered (the snapshot store, when it lives
    inside the source folder). Symlinks are never descended into: a file symlink pointing
    inside ``source`` is taken as the file it points to; folder symlinks and symlinks leading
    outside are left out with a warning.
    """
    scan = Scan(source=source, started_ns=time.time_ns())
    files, ignored, warnings = scan.files, scan.ignored, scan.warnings
    warn = warnings.append
    real_prefix = source.rstrip(os.sep) + os.sep
    total = 0
    # Each stack item: (folder's absolute path, its relative path + "/" or "", ignore levels above it).
    stack: list[tuple[str, str, tuple[IgnoreLevel, ...]]] = [(source, "", ())]
    while stack:
        abs_dir, rel_dir, levels = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
        except OSError as exc:
            warn(f"{rel_dir or './'}: left out: the folder could not be read ({exc.strerror})")
            continue
        present = {e.name: e for e in entries if e.name in IGNORE_FILES}
        for ignore_name in IGNORE_FILES:
            found = present.get(ignore_name)
            if found is not None and found.is_file():
                if not rel_dir:
                    scan.root_ignore_file = ignore_name
                spec = load_ignore_file(found.path, rel_dir + ignore_name, warn)
                if spec is not None:
                    levels = (*levels, IgnoreLevel(rel_dir, spec))
                break  # an .amlignore replaces the folder's .gitignore
        is_ignored = make_matcher(levels) if levels else None
        for entry in entries:
            name = entry.name
            rel = rel_dir + name
            if entry.is_dir(follow_symlinks=False):
                if name in ALWAYS_EXCLUDED or entry.path in skip_dirs:
                    continue
                rel += "/"
                if is_ignored is not None and is_ignored(rel):
                    ignored.append(rel)
                    continue
                stack.append((entry.path, rel, levels))
                continue
            if is_ignored is not None and is_ignored(rel):
                ignored.append(rel)
                continue
            if name in ALWAYS_EXCLUDED:
                continue  # a ".git" file: a submodule's or worktree's pointer
            reason = secret_reason(name)
            if reason is not None:
                warn(f"{rel}: left out: it looks like a secret ({reason})")
                continue
            path = entry.path
            try:
                if entry.is_symlink():
                    target = os.path.realpath(path)
                    if not target.startswith(real_prefix) and target != source:
                        warn(f"{rel}: left out: symlink to {target}, which is outside the snapshot folder")
                        continue
                    try:
                        st = os.stat(target)
                    except FileNotFoundError:
                        warn(f"{rel}: left out: broken symlink")
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        warn(f"{rel}: left out: symlink to a folder (folder symlinks are not followed)")
                        continue
                    reason = secret_reason(os.path.basename(target))
                    if reason is not None:
                        warn(f"{rel}: left out: symlink to a file that looks like a secret ({reason})")
                        continue
                    path = target
                else:
                    st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                warn(f"{rel}: left out: {exc.strerror or exc}")
                continue
            if not stat.S_ISREG(st.st_mode):
                warn(f"{rel}: left out: not a regular file")
                continue
            size = st.st_size
            total += size
            files.append(ScannedFile(rel, path, size, st.st_mtime_ns, st.st_ino, bool(st.st_mode & 0o111)))
    files.sort(key=attrgetter("rel"))
    ignored.sort()
    warnings.sort()
    scan.total_bytes = total
    return scan
