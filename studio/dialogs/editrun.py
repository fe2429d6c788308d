"""What describes a run, edited in place: its display name, description and tags.

The Runs table edits a run's name and tags inline (F2, or a double click on a selected cell is
left to opening the run: F2 and the context menu's Rename); `EditRunDialog` edits all three.
Saving calls `Engine.update_run` off the GUI thread (`save_run`), as `trainyard job update` does.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.errors import InvalidSpec
from studio.models.runcells import parse_tags, tags_text
from studio.style import STATUS_COLORS, muted
from studio.tasks import BackgroundOp


def save_run(
    parent: QWidget,
    engine: Any,
    name: str,
    on_saved: Any,
    *,
    display_name: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> BackgroundOp:
    """Write the changed fields of run `name` (None: unchanged) in the background; `on_saved(run)`
    with the run as stored. A failure is shown to the user (the row keeps what the store has)."""
    return (
        BackgroundOp(
            parent,
            lambda: engine.update_run(name, display_name=display_name, description=description, tags=tags),
            serial=True,
        )
        .success(on_saved)
        .run()
    )


class EditRunDialog(QDialog):
    """Display name, description and tags of one run; OK stays disabled while the tags do not parse."""

    def __init__(self, run: E.Run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.setWindowTitle(f"Edit {run.name}")
        self.setMinimumWidth(480)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.name_edit = QLineEdit(run.display_name if run.display_name != run.name else "")
        self.name_edit.setPlaceholderText(run.name)
        self.name_edit.setToolTip("What lists and charts call this run; empty: its name, " + run.name)
        self.description_edit = QPlainTextEdit(run.description or "")
        self.description_edit.setPlaceholderText("What this run tried, what it showed")
        self.description_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 16)
        self.tags_edit = QPlainTextEdit(tags_text(run.tags))
        self.tags_edit.setPlaceholderText("stage=dev\nmodel=resnet18")
        self.tags_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 5 + 16)
        form.addRow("Display name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Tags (key=value, one a line)", self.tags_edit)
        lay.addLayout(form)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {STATUS_COLORS['Failed']}")
        self.error.hide()
        lay.addWidget(self.error)
        lay.addWidget(muted(QLabel(f"Run {run.name} · experiment {run.experiment_name}")))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.tags_edit.textChanged.connect(self._validate)
        self._validate()

    def display_name(self) -> str:
        return self.name_edit.text().strip() or self.run.name

    def description(self) -> str:
        return self.description_edit.toPlainText().strip()

    def tags(self) -> dict[str, str]:
        return parse_tags(self.tags_edit.toPlainText())

    def changes(self) -> dict[str, Any]:
        """Only the fields that differ from the run's (for `save_run`)."""
        out: dict[str, Any] = {}
        if self.display_name() != (self.run.display_name or self.run.name):
            out["display_name"] = self.display_name()
        if self.description() != (self.run.description or ""):
            out["description"] = self.description()
        if self.tags() != {k: str(v) for k, v in self.run.tags.items()}:
            out["tags"] = self.tags()
        return out

    def _validate(self) -> None:
        try:
            self.tags()
        except InvalidSpec as exc:
            self.error.setText(f"{exc.message}: {exc.hint}")
            self.error.show()
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
            return
        self.error.hide()
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)
