"""The Submit dialog: run a script of a project folder as a new run."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.jobs.spec import JobSpec
from studio.dialogs.scripts import default_experiment_name, find_scripts
from studio.errors import show_error
from studio.style import STATUS_COLORS, heading, muted
from studio.tasks import BackgroundOp

COMPUTE_TARGETS = ("local",)


class SubmitDialog(QDialog):
    """Pre-filled from the folder; `submitted(run)` once the engine accepted the run."""

    submitted = Signal(object)
    scriptsFound = Signal(list)

    def __init__(self, engine: Any, folder: Path, script: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.folder = Path(folder).resolve()
        self.warnings: list[str] = []
        self._preferred = script
        self._scanning = True
        self._submitting = False
        self.setWindowTitle("Submit a run")
        self.setMinimumWidth(560)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 18, 20, 16)
        lay.setSpacing(10)
        lay.addWidget(heading("Submit a run", 1.35))
        self.folder_label = muted(QLabel(str(self.folder)))
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        lay.addWidget(self.folder_label)
        lay.addSpacing(4)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        self.script_combo = QComboBox()
        self.script_combo.setEditable(True)
        self.script_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.script_combo.lineEdit().setPlaceholderText("Looking for scripts…")
        self.script_combo.setToolTip("The script to run, relative to the project folder")
        form.addRow("Script", self.script_combo)
        self.experiment_edit = QLineEdit(default_experiment_name(self.folder))
        self.experiment_edit.setToolTip("Runs are grouped by experiment")
        form.addRow("Experiment", self.experiment_edit)
        self.arguments_edit = QLineEdit()
        self.arguments_edit.setPlaceholderText("for example  --epochs 10 --lr 0.01")
        self.arguments_edit.setToolTip("Passed to the script as its command-line arguments "
                                       "(split with shell quoting rules)")
        form.addRow("Arguments", self.arguments_edit)
        self.compute_combo = QComboBox()
        self.compute_combo.addItems(COMPUTE_TARGETS)
        self.compute_combo.setToolTip("local: a process on this computer")
        form.addRow("Compute", self.compute_combo)
        lay.addLayout(form)

        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        pal = self.problem_label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(STATUS_COLORS["Failed"]))
        self.problem_label.setPalette(pal)
        self.problem_label.hide()
        lay.addWidget(self.problem_label)
        lay.addStretch(1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.submit_button = self.buttons.addButton("Submit", QDialogButtonBox.ButtonRole.AcceptRole)
        self.submit_button.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

        self.script_combo.currentTextChanged.connect(self._validate)
        self.experiment_edit.textChanged.connect(self._validate)
        self.arguments_edit.textChanged.connect(self._validate)
        self._validate()
        folder_ = self.folder
        BackgroundOp(self, lambda: find_scripts(folder_)).success(self._scripts_found).run()

    # ---------------------------------------------------------------- pre-fill
    def scripts(self) -> list[str]:
        return [self.script_combo.itemText(i) for i in range(self.script_combo.count())]

    def is_scanning(self) -> bool:
        return self._scanning

    def _scripts_found(self, scripts: list[str]) -> None:
        self._scanning = False
        self.script_combo.lineEdit().setPlaceholderText("script.py")
        current = self.script_combo.currentText()
        self.script_combo.addItems(scripts)
        pick = self._preferred if self._preferred else (current or (scripts[0] if scripts else ""))
        if pick and pick not in scripts:
            self.script_combo.insertItem(0, pick)
        self.script_combo.setCurrentText(pick)
        self._validate()
        self.scriptsFound.emit(scripts)

    # ---------------------------------------------------------------- values
    def arguments(self) -> tuple[str, ...]:
        return tuple(shlex.split(self.arguments_edit.text()))

    def spec(self) -> JobSpec:
        return JobSpec(
            experiment_name=self.experiment_edit.text().strip(),
            code_dir=self.folder,
            script=self.script_combo.currentText().strip(),
            arguments=self.arguments(),
            compute=self.compute_combo.currentText(),
        )

    def problem(self) -> str:
        if not self.script_combo.currentText().strip():
            if self._scanning:
                return ""
            return "Pick the script to run (no .py file with a __main__ guard was found)."
        if not self.experiment_edit.text().strip():
            return "Give the experiment a name."
        try:
            shlex.split(self.arguments_edit.text())
        except ValueError as exc:
            if "quotation" in str(exc):
                return "The arguments have an unclosed quote: close it, or escape it with a backslash."
            return f"The arguments are not valid shell words: {exc}."
        return ""

    def _validate(self, *_: object) -> None:
        text = self.problem()
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))
        ready = not text and bool(self.script_combo.currentText().strip())
        self.submit_button.setEnabled(ready and not self._submitting)

    # ---------------------------------------------------------------- submit
    def submit(self) -> BackgroundOp | None:
        if self.problem() or self._submitting:
            return None
        spec = self.spec()
        engine, warnings = self.engine, self.warnings
        self._set_submitting(True)
        return (BackgroundOp(self, lambda: engine.submit(spec, on_warning=warnings.append), serial=True)
                .success(self._submitted)
                .failure(self._failed)
                .run())

    def _set_submitting(self, on: bool) -> None:
        self._submitting = on
        self.submit_button.setText("Submitting…" if on else "Submit")
        for w in (self.script_combo, self.experiment_edit, self.arguments_edit, self.compute_combo):
            w.setEnabled(not on)
        self._validate()

    def _submitted(self, run: E.Run) -> None:
        self._set_submitting(False)
        self.submitted.emit(run)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._set_submitting(False)
        show_error(self, exc)
