"""A user-managed interpreter's lock (what a run with no environment records) is kept per user
while its packages are unchanged, and taken again when a package is installed: a real venv made
with uv, a real wheel installed into it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from wheels import make_wheel

from engine.environments.build.venv import uv_bin
from engine.environments.lock import interpreter_lock


def _venv(tmp_path: Path) -> Path:
    subprocess.run(
        [uv_bin(), "venv", "-q", str(tmp_path / "venv")], check=True, capture_output=True, timeout=120
    )
    return tmp_path / "venv" / "bin" / "python"


def _install(python: Path, index: Path, req: str) -> None:
    subprocess.run(
        [
            uv_bin(),
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "--no-index",
            "--find-links",
            str(index),
            req,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_the_lock_is_kept_until_a_package_changes(tmp_path: Path) -> None:
    python = _venv(tmp_path)
    index = tmp_path / "index"
    make_wheel(index, "tinypkg", "1.0")
    make_wheel(index, "otherpkg", "2.0")
    _install(python, index, "tinypkg")
    cache = tmp_path / "locks"

    first = interpreter_lock(python, uv_bin(), cache)
    assert first.kind == "user"
    assert ("tinypkg", "1.0") in [(p.name, p.version) for p in first.packages]
    kept = list(cache.glob("*.json"))
    assert len(kept) == 1, kept

    # Unchanged: the kept lock answers (the freeze is not run again: a changed file shows it).
    kept[0].write_text(kept[0].read_text().replace('"1.0"', '"1.0-from-the-cache"'))
    again = interpreter_lock(python, uv_bin(), cache)
    assert ("tinypkg", "1.0-from-the-cache") in [(p.name, p.version) for p in again.packages]

    # A package installed: the folder changed, the lock is taken anew and names it.
    _install(python, index, "otherpkg")
    fresh = interpreter_lock(python, uv_bin(), cache)
    names = {(p.name, p.version) for p in fresh.packages}
    assert {("tinypkg", "1.0"), ("otherpkg", "2.0")} <= names, names
    assert fresh.id != first.id


def test_an_unwritable_cache_still_gives_the_lock(tmp_path: Path) -> None:
    python = _venv(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    lock = interpreter_lock(python, uv_bin(), blocker / "locks")
    assert lock.kind == "user"
