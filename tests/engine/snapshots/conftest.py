"""Fixtures for the snapshot tests: a store in tmp_path and ways to write and inspect trees.

Helpers are handed out as fixtures (not imported from here) because several test folders have
a ``conftest.py`` and none is a package.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.snapshots import SnapshotStore

Tree = dict[str, str | bytes]


def write_tree(root: Path, files: Tree) -> Path:
    """Create ``files`` (relative POSIX path -> content) under ``root``; returns ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    root.mkdir(parents=True, exist_ok=True)
    return root


def age_tree(root: Path, seconds: float = 60.0) -> None:
    """Backdate every file's mtime.

    The store re-hashes files modified in the last instants before a walk (git's "racily clean"
    rule); tests that check the stat cache make the files look as old as a real project's.
    """
    past = time.time_ns() - int(seconds * 1e9)
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), ns=(past, past), follow_symlinks=False)


def store_files(store: SnapshotStore) -> set[str]:
    """Every file under the store root (relative paths), temp files included."""
    if not store.root.exists():
        return set()
    return {str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()}


@pytest.fixture
def age() -> Callable[..., None]:
    """``age(root, seconds=60)``: see :func:`age_tree`."""
    return age_tree


@pytest.fixture
def listing() -> Callable[[SnapshotStore], set[str]]:
    """``listing(store)``: see :func:`store_files`."""
    return store_files


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "workspace" / ".trainyard" / "snapshots")


@pytest.fixture
def project(tmp_path: Path) -> Callable[[Tree], Path]:
    """Write a project tree into ``tmp_path/project`` and return its folder."""

    def make(files: Tree) -> Path:
        return write_tree(tmp_path / "project", files)

    return make
