"""The detail pane at the right of a browser page: a title, label/value rows, then whatever the
page adds (buttons, tabs, a table). Shows a hint until a row is selected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.style import heading, mono_font, muted

DETAIL_WIDTH = 380
LONG_TOKEN = 40  # characters: longer values wrap (prose) or scroll (paths, ids)


class DetailPane(QStackedWidget):
    def __init__(self, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(300)
        hint_label = muted(QLabel(hint))
        hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint_label.setWordWrap(True)
        hint_label.setContentsMargins(24, 0, 24, 0)
        self.addWidget(hint_label)

        content = QWidget()
        col = QVBoxLayout(content)
        col.setContentsMargins(16, 2, 0, 0)
        col.setSpacing(8)
        self.title = heading("", 1.25)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = muted(QLabel())
        self.subtitle.setWordWrap(True)
        col.addWidget(self.title)
        col.addWidget(self.subtitle)
        # Rows of box layouts, not a QFormLayout or grid: those give wrapped values extra height.
        self.form = QVBoxLayout()
        self.form.setSpacing(6)
        col.addLayout(self.form)
        self.actions = QHBoxLayout()
        self.actions.setSpacing(8)
        col.addLayout(self.actions)
        # Always there and expanding, so the rows above keep their natural heights.
        body = QWidget()
        body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(6)
        col.addWidget(body, 1)
        self.addWidget(content)

    def show_hint(self) -> None:
        self.setCurrentIndex(0)

    def set_header(self, title: str, subtitle: str = "") -> None:
        self.title.setText(title)
        self.subtitle.setText(subtitle)
        self.subtitle.setVisible(bool(subtitle))
        self.setCurrentIndex(1)

    def set_fields(self, fields: Sequence[tuple[str, str]]) -> None:
        """Label/value rows; empty values are left out. Prose wraps; a long path or id is a
        read-only line that scrolls (it cannot wrap, and copying it must give it whole)."""
        _clear(self.form)
        self._fields: dict[str, str] = {}
        shown = [(label, str(value)) for label, value in fields if value not in ("", None)]
        names = [muted(QLabel(label)) for label, _ in shown]
        width = max((n.sizeHint().width() for n in names), default=0)
        for name, (label, text) in zip(names, shown):
            self._fields[label] = text
            name.setFixedWidth(width)
            name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            row = QHBoxLayout()
            row.setSpacing(14)
            row.addWidget(name, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(_value_widget(text), 1)
            self.form.addLayout(row)

    def field(self, label: str) -> str | None:
        """The value shown for `label` (for tests and screen readers)."""
        return getattr(self, "_fields", {}).get(label)


def _clear(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
        elif item.layout() is not None:
            _clear(item.layout())


def _value_widget(text: str) -> QWidget:
    if len(text) > LONG_TOKEN and " " not in text and "\n" not in text:
        line = QLineEdit(text)
        line.setReadOnly(True)
        line.setFrame(False)
        line.setCursorPosition(0)
        line.setToolTip(text)
        line.setStyleSheet("QLineEdit { background: transparent; padding: 0; }")
        line.setTextMargins(0, 0, 0, 0)
        line.setContentsMargins(0, 0, 0, 0)
        return line
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    if len(text) > LONG_TOKEN or "\n" in text:
        label.setWordWrap(True)
    return label


def text_view(placeholder: str = "") -> QPlainTextEdit:
    """A read-only, monospaced, non-wrapping text box (specs, logs)."""
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setFont(mono_font())
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    view.setPlaceholderText(placeholder)
    view.setFrameShape(QFrame.Shape.StyledPanel)
    return view


def split(table: QWidget, detail: QWidget) -> QSplitter:
    """Table left, detail pane right; the table takes what the window gains."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setChildrenCollapsible(False)
    splitter.addWidget(table)
    splitter.addWidget(detail)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 0)
    splitter.setSizes([10_000, DETAIL_WIDTH])
    return splitter
