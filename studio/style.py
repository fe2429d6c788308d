"""Look and wording shared by the pages: status colours, dot icons, fonts. The formats of numbers,
times and sizes are studio.format's (re-exported here for the pages that import them from style)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

from engine.runtime.sweepresults import stopped_early
from studio.format import (  # noqa: F401 - re-exported: the pages' one import of the formats
    fmt_duration,
    fmt_number,
    fmt_size,
    fmt_time,
    fmt_time_full,
    fmt_value,
    plural,
    run_duration,
)

# Readable on light and dark palettes alike: each has a contrast of at least 3:1 against the
# window and base colours of both themes (studio/theme.py; tests/studio/test_studio_shell.py).
STATUS_COLORS = {
    "NotStarted": "#858a92",
    "Queued": "#b7791f",
    "Preparing": "#b7791f",
    "Starting": "#b7791f",
    "Running": "#2f80ed",
    "Finalizing": "#2f80ed",
    "Completed": "#1f9a55",
    "Failed": "#e5484d",
    "Canceled": "#7e808a",
}
STATUS_LABELS = {"NotStarted": "Not started"}
# The Logs tab's colour for what a run wrote to stderr: apart from the error red and warning amber
# (those lines keep theirs), and as readable as the status colours on both themes.
STDERR_COLOR = "#8f63d9"


def status_color(status: str) -> QColor:
    return QColor(STATUS_COLORS.get(status, STATUS_COLORS["NotStarted"]))


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


STOPPED_EARLY = "Stopped early"


def run_status_label(run: Any) -> str:
    """A run's status as people say it: a sweep trial its early-termination policy canceled is
    "Stopped early" (its error says why), not "Canceled"."""
    if stopped_early(run.status, run.properties, run.error):
        return STOPPED_EARLY
    return status_label(run.status)


@lru_cache(maxsize=32)
def status_icon(status: str, size: int = 10) -> QIcon:
    """A filled dot in the status colour."""
    return color_icon(status_color(status), size)


def color_icon(color: QColor | str, size: int, *, rounded_square: bool = False) -> QIcon:
    """A filled dot (or rounded square) of `color`, drawn at 2x for sharp edges on high-DPI screens."""
    scale = 2
    pix = QPixmap(size * scale, size * scale)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(color))
    rect = QRectF(1, 1, size * scale - 2, size * scale - 2)
    if rounded_square:
        p.drawRoundedRect(rect, 5, 5)
    else:
        p.drawEllipse(rect)
    p.end()
    pix.setDevicePixelRatio(scale)
    return QIcon(pix)


def mono_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(QApplication.font().pointSizeF() - 0.5, 8.0))
    return font


def heading(text: str, scale: float = 1.5, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return label


def muted(label: QLabel) -> QLabel:
    """Secondary text: the palette's placeholder colour, which follows light/dark."""
    pal = label.palette()
    pal.setColor(label.foregroundRole(), pal.color(pal.ColorRole.PlaceholderText))
    label.setPalette(pal)
    return label
