"""Which programs start supervisors and scripts, from a source install or from a bundle; where the
in-run client lives. A leaf: it imports nothing of the engine but its errors.

From source, the interpreter running Trainyard runs both. In a PyInstaller bundle
(`sys.frozen`), `sys.executable` is the `trainyard` program itself: it starts supervisors through a
hidden flag (handled by engine.entry), and scripts without an environment run with the machine's
`python3`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from engine.errors import LaunchFailed

SUPERVISOR_FLAG = "--trainyard-supervisor"
# The folder holding the `engine` package (what a supervisor started with `python -c` puts on sys.path).
ENGINE_ROOT = str(Path(__file__).resolve().parent.parent.parent)
# `trainyard python` names the control script it runs here (engine.sdk.errors presents its errors).
CONTROL_SCRIPT_ENV = "TRAINYARD_CONTROL_SCRIPT"
# The stdlib-only in-run client, put first on the run's PYTHONPATH.
INJECT_DIR = Path(__file__).parent.parent / "tracking" / "inject"


def is_bundle() -> bool:
    return bool(getattr(sys, "frozen", False))


def supervisor_command(run_root: str) -> list[str]:
    """The command that starts the process owning run folder `run_root` (engine.entry.main)."""
    if is_bundle():
        return [sys.executable, SUPERVISOR_FLAG, run_root]
    code = (
        f"import sys; sys.path.insert(0, {ENGINE_ROOT!r}); "
        "from engine.entry import main; sys.exit(main(sys.argv))"
    )
    return [sys.executable, "-c", code, run_root]


def default_python() -> str:
    """The interpreter of runs (and of uv-built venvs) that name no other."""
    if not is_bundle():
        return sys.executable
    found = shutil.which("python3") or shutil.which("python")
    if found is None:
        raise LaunchFailed("no Python interpreter found on PATH for the run",
                           "install Python 3 (e.g. apt install python3), or give the job an environment")
    return found
