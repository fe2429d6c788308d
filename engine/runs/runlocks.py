"""What the supervisor records about a run's environment and its end, apart from running it: the
environment lock copied into the run folder (it outlives a pruned build), a user-managed
interpreter's lock taken at run start, and the last line of a log for a failure message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.runtime.files import RunFiles
from engine.workspace import env_cache_dir

if TYPE_CHECKING:
    from engine.environments.build import BuiltEnvironment
    from engine.environments.lock import Lock
    from engine.store.sql import SqlStore

__all__ = ["keep_build_lock", "keep_lock", "last_meaningful_line", "record_interpreter_lock"]


def keep_build_lock(built: BuiltEnvironment, files: RunFiles) -> str | None:
    """Copy the build's lock into the run folder; its id (None: the build has no lock)."""
    from engine.environments.lock import read_lock

    lock = read_lock(Path(built.lock)) if built.lock else None
    return keep_lock(lock, files) if lock is not None else None


def keep_lock(lock: Lock, files: RunFiles) -> str:
    """Copy `lock` into the run folder (it outlives a pruned build); its id."""
    from engine.environments.lock import write_lock

    write_lock(files.environment_lock, lock)
    return lock.id


def record_interpreter_lock(store: SqlStore, run_name: str, files: RunFiles) -> None:
    """A user-managed interpreter (or Trainyard's own): its packages at run start, as the lock."""
    from engine.environments.build.venv import uv_bin
    from engine.environments.lock import interpreter_lock

    interpreter = store.get_run(run_name).properties.get("interpreter")
    if not interpreter or not os.path.exists(interpreter):
        return
    lock = interpreter_lock(interpreter, uv_bin(), env_cache_dir() / "interpreter-locks")
    store.merge_properties(run_name, {"environment_lock": keep_lock(lock, files)})


def last_meaningful_line(path: Path, tail_bytes: int = 8192) -> str | None:
    """The last non-blank line of a log (at most 500 characters), or None."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - tail_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:500] if lines else None
