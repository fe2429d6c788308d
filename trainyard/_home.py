"""Where Trainyard's own packages live, put first on sys.path before anything imports them.

An installed wheel holds the engine and the studio in `trainyard/_app/` (setup.py: the wheel owns
no generic top-level name such as `engine`); a checkout holds them beside this folder. Either
way the folder holding `engine/` goes first on sys.path, as a run's supervisor does
(engine.runtime.supervisor_command), so that `import engine` inside Trainyard is Trainyard's.
Standard library only: it runs before anything else of Trainyard.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
APP_ROOT = str(_HERE / "_app") if (_HERE / "_app" / "engine").is_dir() else str(_HERE.parent)


def ensure_on_path() -> None:
    if APP_ROOT not in sys.path:
        sys.path.insert(0, APP_ROOT)


def main() -> None:
    """The `trainyard` command: the studio with no command, else the CLI (studio.launch)."""
    ensure_on_path()
    from studio.launch import main as launch

    launch()


ensure_on_path()
