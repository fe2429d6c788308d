"""Look and wording shared by the pages: status colours, dot icons, time and size formats."""

from __future__ import annotations

import datetime as _dt
import time
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

from engine.runtime.sweepresults import stopped_early
from engine.snapshots.limits import human_size

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


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return ""
    t = _dt.datetime.fromtimestamp(ts)
    today = _dt.date.today()
    if t.date() == today:
        return t.strftime("Today %H:%M:%S")
    if t.date() == today - _dt.timedelta(days=1):
        return t.strftime("Yesterday %H:%M")
    return t.strftime("%Y-%m-%d %H:%M")


def fmt_time_full(ts: float | None) -> str:
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s" if s or seconds <= 0 else "<1s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h"


def run_duration(start: float | None, end: float | None) -> float | None:
    if start is None:
        return None
    return (end or time.time()) - start


def fmt_size(n: int) -> str:
    """'1.5 KB': sizes read as the engine writes them (a snapshot's limit, the CLI)."""
    return human_size(n)


def plural(n: int, word: str) -> str:
    """'1 run', '2 runs' (n formatted with thousands separators)."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def fmt_value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


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
