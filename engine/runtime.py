"""Which programs start supervisors and scripts, from a source install or from a bundle.

From source, the interpreter running Trainyard runs both. In a PyInstaller bundle
(`sys.frozen`), `sys.executable` is the `trainyard` program itself: it starts supervisors through a
hidden flag, and scripts without an environment run with the machine's `python3`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from engine.errors import LaunchFailed

SUPERVISOR_FLAG = "--trainyard-supervisor"
_ENGINE_ROOT = str(Path(__file__).resolve().parent.parent)


def is_bundle() -> bool:
    return bool(getattr(sys, "frozen", False))


def supervisor_command(run_root: str) -> list[str]:
    if is_bundle():
        return [sys.executable, SUPERVISOR_FLAG, run_root]
    code = (
        f"import sys; sys.path.insert(0, {_ENGINE_ROOT!r}); "
        "from engine.runs.supervisor import main; sys.exit(main(sys.argv))"
    )
    return [sys.executable, "-c", code, run_root]


def run_supervisor_if_asked(argv: list[str]) -> None:
    """In a bundle: `trainyard --trainyard-supervisor RUN_DIR` is a supervisor, not the CLI."""
    if len(argv) == 3 and argv[1] == SUPERVISOR_FLAG:
        from engine.runs.supervisor import main

        sys.exit(main([argv[0], argv[2]]))


def default_python() -> str:
    """The interpreter of runs (and of uv-built venvs) that name no other."""
    if not is_bundle():
        return sys.executable
    found = shutil.which("python3") or shutil.which("python")
    if found is None:
        raise LaunchFailed("no Python interpreter found on PATH for the run",
                           "install Python 3 (e.g. apt install python3), or give the job an environment")
    return found
