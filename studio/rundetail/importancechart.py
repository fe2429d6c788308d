"""A sweep's parameter importance (engine/sweeps/importance.py) as horizontal bars, the most
important parameter at the top, each bar labelled with its share of the objective's variance."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette

from engine.sweeps.importance import Importance

BAR_COLOR = "#3f8fd8"
TOP_COLOR = "#f2994a"


class ImportanceChart(pg.PlotWidget):
    def __init__(self) -> None:
        super().__init__()
        self.importance: Importance | None = None
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.hideAxis("bottom")
        self.setMinimumHeight(120)
        self._apply_palette()

    def bars(self) -> list[tuple[str, float]]:
        """(parameter, share) top to bottom, as drawn."""
        return list(self.importance.shares) if self.importance else []

    def set_importance(self, importance: Importance) -> None:
        self.importance = importance
        item = self.getPlotItem()
        item.clear()
        shares = list(importance.shares)
        n = len(shares)
        ys = [n - 1 - k for k in range(n)]  # the first (most important) at the top
        brushes = [pg.mkBrush(TOP_COLOR if k == 0 and s > 0 else BAR_COLOR) for k, (_, s) in enumerate(shares)]
        bars = pg.BarGraphItem(x0=[0] * n, y=ys, height=0.55, width=[s for _, s in shares], brushes=brushes,
                               pen=pg.mkPen(None))
        item.addItem(bars)
        for y, (_, share) in zip(ys, shares, strict=True):
            label = pg.TextItem(f"{share:.0%}", color=self._text, anchor=(0, 0.5))
            label.setPos(share + 0.01, y)
            item.addItem(label)
        left = item.getAxis("left")
        left.setTicks([[(y, name) for y, (name, _) in zip(ys, shares, strict=True)]])
        item.setXRange(0, 1.12, padding=0)
        item.setYRange(-0.6, n - 0.4, padding=0)

    def _apply_palette(self) -> None:
        pal = self.palette()
        self._text: QColor = pal.color(QPalette.ColorRole.Text)
        self.setBackground(pal.color(QPalette.ColorRole.Base))
        left = self.getPlotItem().getAxis("left")
        left.setStyle(maxTickLevel=0, tickLength=0)
        left.setPen(pg.mkPen(pal.color(QPalette.ColorRole.PlaceholderText)))
        left.setTextPen(pg.mkPen(self._text))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "importance"):
            self._apply_palette()
            if self.importance is not None:
                self.set_importance(self.importance)

    def sizeHint(self) -> Any:
        hint = super().sizeHint()
        hint.setHeight(60 + 34 * max(1, len(self.bars())))
        return hint
