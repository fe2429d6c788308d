"""Enter in a form dialog: the dialog decides, never a button Qt made the default on its own."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton, QWidget


def no_default_buttons(dialog: QWidget) -> None:
    """No push button of the dialog is (or becomes, on focus) its default one.

    A QDialog makes every button auto-default; when the default button is disabled, Qt passes
    the default to another one (Cancel) and keeps it there, so Enter in a field cancels. The
    dialog's keyPressEvent handles Enter itself instead."""
    for button in dialog.findChildren(QPushButton):
        button.setAutoDefault(False)
        button.setDefault(False)
