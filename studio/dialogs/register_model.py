"""Register a model from a run's files: a name and a path inside the run (default: its outputs)."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from engine import entities as E
from studio.style import muted

# The engine checks names too (and says why); this only keeps OK disabled while it cannot pass.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def default_model_name(run: E.Run) -> str:
    """The experiment name made into a valid model name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", run.experiment_name).strip("-_.") or "model"
    return name[:255]


class RegisterModelDialog(QDialog):
    """Asks for `model_name()` and `path()` (relative to the run's folder)."""

    def __init__(self, run: E.Run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Register model")
        self.setMinimumWidth(460)
        lay = QVBoxLayout(self)
        intro = muted(QLabel(f"Copy files of run <b>{run.display_name or run.name}</b> into the workspace as "
                             "the next version of a model."))
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit(default_model_name(run))
        self.name_edit.setPlaceholderText("letters, digits, - _ .")
        self.path_edit = QLineEdit("outputs")
        self.path_edit.setToolTip("A file or folder of the run, e.g. outputs/model.pt")
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("optional")
        form.addRow("Model name", self.name_edit)
        form.addRow("Path in the run", self.path_edit)
        form.addRow("Description", self.description_edit)
        lay.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Register")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._validate)
        self.path_edit.textChanged.connect(self._validate)
        self._validate()

    def model_name(self) -> str:
        return self.name_edit.text().strip()

    def path(self) -> str:
        return self.path_edit.text().strip()

    def description(self) -> str:
        return self.description_edit.text().strip()

    def _validate(self) -> None:
        ok = bool(NAME_RE.fullmatch(self.model_name())) and bool(self.path())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
