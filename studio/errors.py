"""The studio's one presenter of errors: `show_error` for a box that needs the user, `one_line`
where a label, tooltip or the status bar says it in passing."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.errors import TrainyardError

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> tuple[str, str | None]:
    """(message, hint) for any exception, the way the user should read it."""
    if isinstance(exc, TrainyardError):
        return exc.message, exc.hint
    text = str(exc) or type(exc).__name__
    return f"Unexpected error: {type(exc).__name__}: {text}", "The details below help to report it."


def one_line(exc: BaseException) -> str:
    """A TrainyardError as one sentence, 'Message: hint.'; any other exception as its text."""
    if not isinstance(exc, TrainyardError):
        return str(exc) or type(exc).__name__
    text = exc.message[:1].upper() + exc.message[1:]
    if exc.hint:
        text += f": {exc.hint}"
    return text + ("" if text.endswith(".") else ".")


def show_error(parent: QWidget | None, exc: BaseException, title: str = "Trainyard") -> QMessageBox:
    """Show the error's message (and hint) in a window-modal box; returns at once with the box.

    A TrainyardError is an expected, user-fixable problem: message + hint only. Anything else is
    a bug: its traceback goes into the box's details and the log.
    """
    message, hint = describe(exc)
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setText(message)
    if hint:
        box.setInformativeText(hint[:1].upper() + hint[1:])
    if isinstance(exc, TrainyardError):
        box.setIcon(QMessageBox.Icon.Warning)
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        details = "".join(traceback.format_exception(exc))
        box.setDetailedText(details)
        log.error("unexpected error in the studio:\n%s", details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
    return box
