"""The Overview's right column, above the metrics table: the run's status timeline (Queued →
Preparing → Running → Finalizing → its end, with the time of each and how long it lasted) and
its key metrics as sparklines (read off the GUI thread, at most every few seconds)."""

from __future__ import annotations

import html
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine import entities as E
from studio.format import fmt_clock, fmt_duration, fmt_value
from studio.style import STATUS_COLORS, heading, muted, status_label
from studio.tasks import BackgroundOp

SPARK_KEYS = 4  # metrics shown as sparklines
SPARK_POINTS = 200  # points drawn per sparkline
SPARK_REFRESH_S = 5.0


def timeline_rows(run: E.Run, now: float | None = None) -> list[tuple[str, str, str]]:
    """(status, time of day, how long it lasted) for each step the run went through, in order."""
    events = sorted(run.status_history, key=lambda e: e.time)
    rows = []
    for i, e in enumerate(events):
        if e.status == "NotStarted":
            continue
        end = events[i + 1].time if i + 1 < len(events) else (None if not run.is_terminal else e.time)
        lasted = "" if e.status in E.TERMINAL_STATUSES else fmt_duration((end or now or time.time()) - e.time)
        rows.append((e.status, fmt_clock(e.time), lasted))
    return rows


def key_metrics(summaries: list[E.MetricSummary]) -> list[str]:
    """The scalar metrics worth a sparkline (more than one point): losses and accuracies first."""
    keys = [s.key for s in summaries if s.kind == "scalar" and s.count > 1 and not s.key.startswith("system/")]

    def weight(k: str) -> tuple[int, str]:
        low = k.lower()
        return (0 if "loss" in low else 1 if "acc" in low else 2, k)

    return sorted(keys, key=weight)[:SPARK_KEYS]


class Sparkline(QWidget):
    """A small line of a metric's values; no axes, the last value beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values = np.zeros(0)
        self.setMinimumSize(120, 26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(180, 26)

    def set_values(self, values: Any) -> None:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if len(v) > SPARK_POINTS:  # keep the shape: every n-th point, and the last one
            v = np.append(v[:: len(v) // SPARK_POINTS], v[-1])
        self.values = v
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if len(self.values) < 2:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width() - 4, self.height() - 4
        lo, hi = float(self.values.min()), float(self.values.max())
        span = hi - lo or 1.0
        n = len(self.values) - 1
        line = QPolygonF([QPointF(2 + w * i / n, 2 + h * (1 - (float(y) - lo) / span))
                          for i, y in enumerate(self.values)])
        p.setPen(QPen(QColor(STATUS_COLORS["Running"]), 1.5))
        p.drawPolyline(line)
        p.end()


class RunSummaryPanel(QWidget):
    """The status timeline and the key-metric sparklines of one run."""

    def __init__(self, engine: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.run: E.Run | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addWidget(heading("Timeline", 1.15))
        self.timeline = QGridLayout()
        self.timeline.setHorizontalSpacing(14)
        self.timeline.setVerticalSpacing(4)
        lay.addLayout(self.timeline)
        self.spark_title = heading("Key metrics", 1.15)
        self.spark_title.setContentsMargins(0, 8, 0, 0)
        lay.addWidget(self.spark_title)
        self.sparks = QGridLayout()
        self.sparks.setHorizontalSpacing(10)
        self.sparks.setVerticalSpacing(4)
        lay.addLayout(self.sparks)
        self.spark_widgets: dict[str, tuple[QLabel, Sparkline, QLabel]] = {}
        self._spark_for: tuple[str, tuple[tuple[str, int], ...]] | None = None
        self._spark_read_at = 0.0
        self._timeline_shown: list[tuple[str, str, str]] = []
        self.spark_title.hide()

    # ---------------------------------------------------------------- timeline
    def set_run(self, run: E.Run) -> None:
        self.run = run
        rows = timeline_rows(run)
        if rows == self._timeline_shown:
            return
        self._timeline_shown = rows
        while self.timeline.count():
            item = self.timeline.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for r, (status, clock, lasted) in enumerate(rows):
            color = STATUS_COLORS.get(status, STATUS_COLORS["NotStarted"])
            name = QLabel(f"<span style='color:{color}'>●</span>&nbsp;{html.escape(status_label(status))}")
            self.timeline.addWidget(name, r, 0)
            self.timeline.addWidget(QLabel(clock), r, 1)
            self.timeline.addWidget(muted(QLabel(lasted)), r, 2)
        if not rows:
            self.timeline.addWidget(muted(QLabel("Not started yet")), 0, 0)
        self.timeline.setColumnStretch(3, 1)

    def timeline_text(self) -> list[str]:
        return [" ".join(p for p in row if p) for row in self._timeline_shown]

    # ---------------------------------------------------------------- sparklines
    def set_metrics(self, summaries: list[E.MetricSummary]) -> None:
        if self.run is None or self.engine is None:
            return
        keys = key_metrics(summaries)
        counts = {s.key: s.count for s in summaries}
        wanted = (self.run.name, tuple((k, counts[k]) for k in keys))
        stale = time.monotonic() - self._spark_read_at > SPARK_REFRESH_S
        if wanted == self._spark_for or (self._spark_for is not None and self._spark_for[0] == self.run.name
                                          and not stale):
            return
        self._spark_for, self._spark_read_at = wanted, time.monotonic()
        engine, name = self.engine, self.run.name
        BackgroundOp(self, lambda: {k: engine.metric_history(name, k).values for k in keys}).success(
            self._show_sparks).failure(lambda _e: None).run()

    def _show_sparks(self, histories: dict[str, Any]) -> None:
        for key in [k for k in self.spark_widgets if k not in histories]:
            for w in self.spark_widgets.pop(key):
                w.deleteLater()
        for r, (key, values) in enumerate(histories.items()):
            if key not in self.spark_widgets:
                name = QLabel(key)
                name.setToolTip(key)
                last = QLabel()
                last.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.spark_widgets[key] = (name, Sparkline(), last)
            name, spark, last = self.spark_widgets[key]
            spark.set_values(values)
            last.setText(fmt_value(float(values[-1])) if len(values) else "")
            for c, w in enumerate((name, spark, last)):
                self.sparks.addWidget(w, r, c)
        self.sparks.setColumnStretch(1, 1)
        self.spark_title.setVisible(bool(histories))
