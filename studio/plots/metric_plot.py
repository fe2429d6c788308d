"""One scalar metric as a line plot that stays fast with millions of points.

Every point is kept in the curve's data; peak downsampling and clip-to-view only decide what is
drawn. (PlotItem.addItem resets both on a curve, so they are set after the curve is added.)
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.style import fmt_value, plural

CURVE_COLOR = "#2f80ed"
# Below this many points each one is also drawn as a dot (a single value has no line to draw).
SYMBOLS_BELOW = 120


class MetricPlot(pg.PlotWidget):
    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.steps = np.empty(0, dtype=np.int64)
        self.values = np.empty(0, dtype=np.float64)
        item = self.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.showGrid(x=True, y=True, alpha=0.12)
        item.setMenuEnabled(True)
        self.curve = item.plot(pen=pg.mkPen(CURVE_COLOR, width=2))
        # After addItem: adding a curve to a PlotItem resets both settings on it.
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.setMinimumHeight(240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._single_point_range = False
        self._apply_palette()

    def _apply_palette(self) -> None:
        """Colours from the widget palette, so the plot follows the light or dark theme."""
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        self._text_color = text.name()
        self._muted_color = muted.name()
        self.setBackground(base)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(QColor(muted)))
            axis.setTextPen(pg.mkPen(QColor(text)))
        item.setLabel("bottom", "step", color=muted.name())
        n = len(self.values)
        self._set_title(float(self.values[-1]) if n else None, int(self.steps[-1]) if n else None)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # (The base class changes roles while it is being built, before the curve exists.)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "curve"):
            self._apply_palette()

    def set_history(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Show exactly these points (the whole history of the metric)."""
        self.steps = np.asarray(steps)
        self.values = np.asarray(values)
        n = len(self.values)
        if n < SYMBOLS_BELOW:
            self.curve.setData(self.steps, self.values, symbol="o", symbolSize=6,
                               symbolBrush=CURVE_COLOR, symbolPen=None)
        else:
            self.curve.setData(self.steps, self.values, symbol=None)
        view = self.getPlotItem().getViewBox()
        if n == 1 and np.isfinite(self.values[0]):
            # Auto-range around one point gives a meaningless scale: centre it instead.
            x, y = float(self.steps[0]), float(self.values[0])
            pad = abs(y) * 0.1 or 1.0
            view.setRange(xRange=(x - 1, x + 1), yRange=(y - pad, y + pad), padding=0)
        elif n > 1 and not view.autoRangeEnabled()[0] and self._single_point_range:
            view.enableAutoRange()
        self._single_point_range = n == 1
        if n:
            self._set_title(float(self.values[-1]), int(self.steps[-1]))

    def point_count(self) -> int:
        return len(self.values)

    def _set_title(self, last: float | None, step: int | None) -> None:
        title = (f"<span style='color:{self._text_color};font-weight:600'>{html.escape(self.key)}</span>")
        if last is not None:
            title += (f"&nbsp;&nbsp;<span style='color:{self._muted_color}'>{html.escape(fmt_value(last))}"
                      f" at step {step} · {plural(len(self.values), 'point')}</span>")
        self.setTitle(title, size="10.5pt")
