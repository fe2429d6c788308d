"""A read-only code viewer with line numbers, and the colouring of unified diffs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from studio.style import STATUS_COLORS, mono_font

ADDED_COLOR = STATUS_COLORS["Completed"]
REMOVED_COLOR = STATUS_COLORS["Failed"]
HUNK_COLOR = STATUS_COLORS["Running"]


class _Gutter(QWidget):
    def __init__(self, view: CodeView) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self) -> QSize:
        return QSize(self.view.gutter_width(), 0)

    def paintEvent(self, event: Any) -> None:
        self.view.paint_gutter(event.rect())


class CodeView(QPlainTextEdit):
    """Monospace, read-only, line numbers in a gutter (Qt's code editor example, trimmed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(mono_font())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self._gutter = _Gutter(self)
        self.line_numbers = True
        # A text before each line number (the Logs tab's times): (line, lines shown) -> text.
        self.gutter_text: Callable[[int, int], str] | None = None
        self.gutter_text_sample = ""
        self.blockCountChanged.connect(lambda _n: self._update_margins())
        self.updateRequest.connect(self._scroll_gutter)
        self._update_margins()

    def set_line_numbers(self, on: bool) -> None:
        self.line_numbers = on
        self._gutter.setVisible(on)
        self._update_margins()

    def set_gutter_text(self, text: Callable[[int, int], str] | None, sample: str = "") -> None:
        """Show `text(line, lines shown)` before each line number (None: numbers only)."""
        self.gutter_text, self.gutter_text_sample = text, sample
        self._update_margins()
        self._gutter.update()

    def refresh_gutter(self) -> None:
        self._gutter.update()

    def gutter_width(self) -> int:
        if not self.line_numbers:
            return 0
        digits = max(3, len(str(self.blockCount())))
        extra = self.fontMetrics().horizontalAdvance(self.gutter_text_sample) + 12 if self.gutter_text else 0
        return 14 + self.fontMetrics().horizontalAdvance("9") * digits + extra

    def _update_margins(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self._gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, rect: QRect) -> None:
        painter = QPainter(self._gutter)
        pal = self.palette()
        painter.fillRect(rect, pal.color(QPalette.ColorRole.AlternateBase))
        painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        width = self._gutter.width() - 6
        height = self.fontMetrics().height()
        count = self.blockCount()
        while block.isValid() and top <= rect.bottom():
            if block.isVisible() and bottom >= rect.top():
                painter.drawText(0, top, width, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
                if self.gutter_text is not None:
                    painter.drawText(6, top, width, height, Qt.AlignmentFlag.AlignLeft, self.gutter_text(number, count))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()


class DiffHighlighter(QSyntaxHighlighter):
    """+ lines green, - lines red, @@ hunk headers blue, file headers bold."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._formats = {
            "+": self._format(ADDED_COLOR),
            "-": self._format(REMOVED_COLOR),
            "@": self._format(HUNK_COLOR, background=False),
        }
        self._header = QTextCharFormat()
        self._header.setFontWeight(700)

    @staticmethod
    def _format(color: str, background: bool = True) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(color))
        if background:
            tint = QColor(color)
            tint.setAlpha(36)  # a light wash that works on light and dark bases
            fmt.setBackground(tint)
        return fmt

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("+++", "---")):
            self.setFormat(0, len(text), self._header)
        elif text[:1] in self._formats:
            self.setFormat(0, len(text), self._formats[text[:1]])
