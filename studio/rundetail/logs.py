"""The Logs tab: the driver log (or another log file of the run), tailed live."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.style import mono_font, muted

MAX_LINES = 200_000
DRIVER_LOG_LABEL = "Driver log (stdout and stderr)"


class LogsTab(QWidget):
    """`sourceChanged(relpath)` when the user picks another log file."""

    sourceChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Log"))
        self.source = QComboBox()
        self.source.setMinimumContentsLength(28)
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.currentIndexChanged.connect(self._source_picked)
        bar.addWidget(self.source)
        self.path_label = muted(QLabel())
        bar.addWidget(self.path_label, 1)
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.follow.setToolTip("Keep the newest output in view")
        self.follow.toggled.connect(self._follow_toggled)
        bar.addWidget(self.follow)
        lay.addLayout(bar)
        self.edit = QPlainTextEdit()
        self.edit.setReadOnly(True)
        self.edit.setFont(mono_font())
        self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.edit.setMaximumBlockCount(MAX_LINES)
        self.edit.setPlaceholderText("The script has not written anything yet.")
        self.edit.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.edit.verticalScrollBar().rangeChanged.connect(self._range_changed)
        lay.addWidget(self.edit, 1)
        self._sources: list[str] = []
        self._auto_scrolling = False

    def text(self) -> str:
        return self.edit.toPlainText()

    def current_source(self) -> str | None:
        i = self.source.currentIndex()
        return self._sources[i] if 0 <= i < len(self._sources) else None

    def set_sources(self, sources: list[str]) -> None:
        if sources == self._sources:
            return
        current = self.current_source()
        self._sources = list(sources)
        self.source.blockSignals(True)
        self.source.clear()
        for i, rel in enumerate(sources):
            self.source.addItem(DRIVER_LOG_LABEL if i == 0 else rel, rel)
            self.source.setItemData(i, rel, 3)  # tooltip
        self.source.setCurrentIndex(sources.index(current) if current in sources else 0)
        self.source.blockSignals(False)
        self.path_label.setText(self.current_source() or "")

    def append(self, text: str) -> None:
        if not text:
            return
        cursor = QTextCursor(self.edit.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if self.follow.isChecked():
            self._scroll_to_end()

    def clear(self) -> None:
        self.edit.clear()

    def _source_picked(self, _index: int) -> None:
        src = self.current_source()
        self.path_label.setText(src or "")
        if src:
            self.edit.clear()
            self.sourceChanged.emit(src)

    def _scroll_to_end(self) -> None:
        self._auto_scrolling = True
        bar = self.edit.verticalScrollBar()
        bar.setValue(bar.maximum())
        self._auto_scrolling = False

    def _follow_toggled(self, on: bool) -> None:
        if on:
            self._scroll_to_end()

    def _range_changed(self, _lo: int, _hi: int) -> None:
        if self.follow.isChecked():
            self._scroll_to_end()

    def _scrolled(self, value: int) -> None:
        if self._auto_scrolling:
            return
        # Scrolling up to read pauses following; scrolling back to the end resumes it.
        at_end = value >= self.edit.verticalScrollBar().maximum()
        if at_end != self.follow.isChecked():
            self.follow.blockSignals(True)
            self.follow.setChecked(at_end)
            self.follow.blockSignals(False)
