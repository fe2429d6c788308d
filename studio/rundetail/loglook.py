"""How a log reads: Python tracebacks and error lines in the error colour, warnings in amber,
lines written to stderr in their own colour, and where the first error is (the Logs tab's
"Jump to first error").

The driver log holds stdout and stderr merged, in the order the script wrote them; which lines
came from stderr is known from the log's marks (engine.runtime.stderrmarks), which the tab
passes in as `is_stderr(line number)`. Errors and warnings are told by their text, on either
stream."""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from studio.style import STATUS_COLORS, STDERR_COLOR

TRACEBACK_START = "Traceback (most recent call last):"
# Lines that name an error: Python's "XyzError: ...", loggers' ERROR/CRITICAL, "FAILED", "fatal:".
ERROR_LINE = re.compile(
    r"^\s*(\w+\.)*\w*(Error|Exception|Interrupt)\b.*:|\b(ERROR|CRITICAL|FATAL|FAILED)\b|^fatal:"
)
WARNING_LINE = re.compile(r"\b(WARNING|Warning|WARN)\b|^\s*\w*Warning:")
IN_TRACEBACK, OUTSIDE = 1, 0


def is_error_line(text: str) -> bool:
    return text.startswith(TRACEBACK_START) or bool(ERROR_LINE.search(text))


class LogHighlighter(QSyntaxHighlighter):
    """A traceback (its header, frames and the exception line) tinted in the error colour with the
    exception line bold; other error lines in the error colour; warnings in amber; other lines
    the script wrote to stderr in the stderr colour."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.is_stderr: Callable[[int], bool] | None = None  # by line number, when the log has marks
        self.stderr = QTextCharFormat()
        self.stderr.setForeground(QColor(STDERR_COLOR))
        error = QColor(STATUS_COLORS["Failed"])
        tint = QColor(error)
        tint.setAlpha(30)  # a light wash that works on light and dark bases
        self.trace = QTextCharFormat()
        self.trace.setForeground(error)
        self.trace.setBackground(tint)
        self.exception = QTextCharFormat(self.trace)
        self.exception.setFontWeight(QFont.Weight.Bold)
        self.error = QTextCharFormat()
        self.error.setForeground(error)
        self.warning = QTextCharFormat()
        self.warning.setForeground(QColor(STATUS_COLORS["Queued"]))

    def highlightBlock(self, text: str) -> None:
        previous = self.previousBlockState()
        if text.startswith(TRACEBACK_START):
            self.setFormat(0, len(text), self.trace)
            self.setCurrentBlockState(IN_TRACEBACK)
        elif previous == IN_TRACEBACK and (text[:1].isspace() or not text):
            self.setFormat(0, len(text), self.trace)  # a frame or its source line
            self.setCurrentBlockState(IN_TRACEBACK)
        elif previous == IN_TRACEBACK:
            self.setFormat(0, len(text), self.exception)  # "KeyError: 'label'": the end of it
            self.setCurrentBlockState(OUTSIDE)
        else:
            self.setCurrentBlockState(OUTSIDE)
            if ERROR_LINE.search(text):
                self.setFormat(0, len(text), self.error)
            elif WARNING_LINE.search(text):
                self.setFormat(0, len(text), self.warning)
            elif self.is_stderr is not None and self.is_stderr(self.currentBlock().blockNumber()):
                self.setFormat(0, len(text), self.stderr)


def first_error_block(document: QTextDocument) -> int:
    """The number of the first line that starts a traceback or names an error; -1 if none."""
    block = document.firstBlock()
    while block.isValid():
        if is_error_line(block.text()):
            return block.blockNumber()
        block = block.next()
    return -1
