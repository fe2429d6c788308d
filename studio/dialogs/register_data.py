"""Register data…: a name, a file or folder (or an http(s) URL) and a description."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.errors import show_error
from studio.style import muted
from studio.tasks import BackgroundOp

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


class RegisterDataDialog(QDialog):
    """Emits `registered(DataAsset)` once the engine has stored the new version."""

    registered = Signal(object)

    def __init__(self, engine: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.setWindowTitle("Register data")
        self.setMinimumWidth(520)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. mnist-train")
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("a local file or folder, or an http(s) URL")
        file_button = QPushButton("File…")
        file_button.clicked.connect(self._pick_file)
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._pick_folder)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(file_button)
        path_row.addWidget(folder_button)
        self.description_edit = QLineEdit()
        form.addRow("Name", self.name_edit)
        form.addRow("Path", path_row)
        form.addRow("Description", self.description_edit)
        self.note = muted(QLabel("Registering keeps a reference to the path (nothing is copied); "
                                 "a name registered again gets the next version."))
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.register_button = self.buttons.addButton("Register", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        col = QVBoxLayout(self)
        col.addLayout(form)
        col.addWidget(self.note)
        col.addWidget(self.buttons)
        for edit in (self.name_edit, self.path_edit):
            edit.textChanged.connect(self._validate)
        self._validate()

    def _validate(self) -> None:
        ok = bool(NAME_PATTERN.fullmatch(self.name_edit.text().strip())) and bool(self.path_edit.text().strip())
        self.register_button.setEnabled(ok)

    def set_path(self, path: str) -> None:
        self.path_edit.setText(path)
        if not self.name_edit.text().strip():
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).stem).strip("-.") or "data"
            self.name_edit.setText(stem)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pick a data file", self.path_edit.text() or str(Path.home()))
        if path:
            self.set_path(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Pick a data folder", self.path_edit.text() or str(Path.home()))
        if path:
            self.set_path(path)

    def submit(self) -> BackgroundOp:
        name = self.name_edit.text().strip()
        path = self.path_edit.text().strip()
        description = self.description_edit.text().strip()
        self.register_button.setEnabled(False)

        def done(asset: E.DataAsset) -> None:
            self.registered.emit(asset)
            self.accept()

        def failed(exc: BaseException) -> None:
            self._validate()
            show_error(self, exc, "Cannot register the data")

        return (BackgroundOp(self, lambda: self.engine.create_data_asset(name, path, description), serial=True)
                .success(done).failure(failed).run())

