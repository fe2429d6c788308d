"""A control script's uncaught Trainyard error reads like the CLI's: `error: script.py:LINE: message`
and its hint, exit code 1, no traceback (`trainyard python` names the script in CONTROL_SCRIPT_ENV).
Any other exception keeps Python's traceback: it is the script's own bug."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

from engine.errors import TrainyardError
from engine.runtime import CONTROL_SCRIPT_ENV


def install_error_hook() -> None:
    """Present TrainyardErrors in the control script `trainyard python` started (no one else's)."""
    named = os.environ.get(CONTROL_SCRIPT_ENV)
    if not named or not sys.argv or Path(sys.argv[0]).resolve() != Path(named).resolve():
        return
    script = Path(named).resolve()
    previous = sys.excepthook

    def present(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if not isinstance(exc, TrainyardError):
            previous(kind, exc, tb)
            return
        lines = [
            n for frame, n in traceback.walk_tb(tb) if Path(frame.f_code.co_filename).resolve() == script
        ]
        where = f"{sys.argv[0]}:{lines[-1]}: " if lines else ""
        sys.stderr.write(f"error: {where}{exc}\n")  # str(exc): the message, then "  hint: ..."
        sys.stderr.flush()

    sys.excepthook = present
