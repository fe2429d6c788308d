"""Which files of a project folder look like entry scripts. No Qt."""

from __future__ import annotations

import os
import re
from pathlib import Path

PREFERRED = ("train.py", "main.py")
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", "node_modules",
             "site-packages", ".tox", ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints", "build",
             "dist", ".trainyard", "outputs", "logs"}
MAX_DEPTH = 3
MAX_FILES = 2000
MAX_BYTES = 1024 * 1024
_MAIN_GUARD = re.compile(r"""^if\s+__name__\s*==\s*['"]__main__['"]\s*:""", re.MULTILINE)


def is_entry_script(path: Path) -> bool:
    try:
        if path.stat().st_size > MAX_BYTES:
            return False
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_MAIN_GUARD.search(text))


def _rank(rel: str) -> tuple[int, int, str]:
    p = Path(rel)
    depth = len(p.parts) - 1
    name = p.name
    preferred = PREFERRED.index(name) if name in PREFERRED else len(PREFERRED)
    return (depth > 0, preferred, depth, rel.lower())  # type: ignore[return-value]


def find_scripts(folder: Path) -> list[str]:
    """Paths (relative, '/'-separated) of the .py files with a `__main__` guard, best first:
    train.py and main.py at the top, then top-level scripts, then deeper ones.
    If none has a guard, every top-level .py file (a script may simply run at import)."""
    folder = Path(folder)
    found: list[str] = []
    top_level: list[str] = []
    seen = 0
    for dirpath, dirs, names in os.walk(folder):
        rel_dir = Path(dirpath).relative_to(folder)
        depth = len(rel_dir.parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and depth + 1 <= MAX_DEPTH)
        for n in sorted(names):
            if not n.endswith(".py"):
                continue
            seen += 1
            rel = (rel_dir / n).as_posix()
            if depth == 0:
                top_level.append(rel)
            if is_entry_script(Path(dirpath, n)):
                found.append(rel)
            if seen >= MAX_FILES:
                break
        if seen >= MAX_FILES:
            break
    return sorted(found or top_level, key=_rank)


def default_experiment_name(folder: Path) -> str:
    """The folder's name, made into a valid experiment name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(folder).resolve().name).strip("-._")
    return name or "default"
