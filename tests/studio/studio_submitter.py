"""A studio process that submits a run the way a user does, for tests that then kill it.

`python tests/studio/studio_submitter.py WORKSPACE PROJECT ARGS NAME_FILE` opens the real studio
window (offscreen), opens PROJECT in its Submit dialog, types ARGS as the script's arguments, clicks
Submit, writes the new run's name to NAME_FILE once the engine accepted it, and then stays open on
the run's live page until it is killed. With TAKE_TERMINAL=1 and a terminal on stdin, that terminal
becomes its controlling terminal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(workspace: str, project: str, args: str, name_file: str) -> int:
    if os.environ.pop("TAKE_TERMINAL", None):
        # A session leader without a terminal that opens one gets it as its controlling terminal,
        # as a program started from a terminal window has: closing that window hangs it up.
        os.close(os.open(os.ttyname(0), os.O_RDWR))
    from PySide6.QtCore import QTimer

    from engine.api import Engine
    from studio.app import make_app
    from studio.mainwindow import MainWindow

    app = make_app()
    engine = Engine.open(workspace)
    window = MainWindow(engine, restore=False, poll_ms=100)
    window.show()
    dialog = window.open_project(Path(project))

    def submit_when_scanned() -> None:
        if dialog.is_scanning() or dialog.snapshot_preview() is None:
            QTimer.singleShot(50, submit_when_scanned)
            return
        dialog.arguments_edit.setText(args)
        dialog.submitted.connect(lambda run: Path(name_file).write_text(run.name))
        dialog.submit_button.click()

    QTimer.singleShot(0, submit_when_scanned)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
