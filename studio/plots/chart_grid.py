"""A grid of metric charts, created only when scrolled into view.

A run can log hundreds of metrics; building a pyqtgraph chart costs a few milliseconds and its
data costs a read, so each metric first gets an empty slot of the chart's size, and the chart is
built (and `plotCreated` asks for its data) when the slot comes near the visible part of the
scroll area.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QScrollArea, QVBoxLayout, QWidget

from studio.plots.controls import PlotOptions
from studio.plots.metric_plot import MetricPlot

SLOT_HEIGHT = 280
# Charts this far (in pixels) below or above the visible area are built ahead of scrolling.
PREFETCH_PX = 300


class ChartSlot(QWidget):
    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setFixedHeight(SLOT_HEIGHT)
        self.plot: MetricPlot | None = None
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)

    def build(self, options: PlotOptions) -> MetricPlot:
        self.plot = MetricPlot(self.key, options=options)
        self._lay.addWidget(self.plot)
        return self.plot


class ChartGrid(QWidget):
    """`plotCreated(key)`: a chart was just built and holds no data yet."""

    plotCreated = Signal(str)

    def __init__(self, scroll: QScrollArea, columns: int = 2, parent: QWidget | None = None, *,
                 fill_height: bool = False) -> None:
        super().__init__(parent)
        self.scroll = scroll
        self.fill_height = fill_height  # one or two rows of charts share the visible height
        self.columns = columns
        self.options = PlotOptions()
        self.slots: dict[str, ChartSlot] = {}
        self.plots: dict[str, MetricPlot] = {}
        self._filter = ""
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(12)
        self._pending = False
        scroll.verticalScrollBar().valueChanged.connect(self.schedule)
        scroll.viewport().installEventFilter(self)

    # ---------------------------------------------------------------- public
    def set_keys(self, keys: list[str], *, drop_others: bool = False) -> None:
        """Give every key a slot (the grid stays sorted by name); with drop_others, remove the
        charts of keys not in `keys`."""
        new = [k for k in keys if k not in self.slots]
        gone = [k for k in self.slots if k not in set(keys)] if drop_others else []
        for key in gone:
            slot = self.slots.pop(key)
            slot.hide()
            slot.deleteLater()
            self.plots.pop(key, None)
        if not new and not gone:
            return
        for key in new:
            self.slots[key] = ChartSlot(key, self)
        self._layout()

    def set_filter(self, text: str) -> None:
        self._filter = text.strip().lower()
        self._layout()

    def set_options(self, options: PlotOptions) -> None:
        self.options = options
        for plot in self.plots.values():
            plot.set_options(options)

    def shown_keys(self) -> list[str]:
        return [k for k in sorted(self.slots) if self._filter in k.lower()]

    def schedule(self) -> None:
        """Build the charts that came into view, once control returns to the event loop."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self, self.materialize)  # dropped if the grid is gone

    def materialize(self) -> None:
        self._pending = False
        if not self.isVisible():
            return
        body = self.scroll.widget()
        if body is not None and body.layout() is not None:
            body.layout().activate()  # positions of slots added since the last layout pass
        viewport = self.scroll.viewport()
        height = viewport.height()
        for key in self.shown_keys():
            slot = self.slots[key]
            if slot.plot is not None:
                continue
            top = slot.mapTo(viewport, QPoint(0, 0)).y()
            if top < height + PREFETCH_PX and top + slot.height() > -PREFETCH_PX:
                self.plots[key] = slot.build(self.options)
                self.plotCreated.emit(key)

    # ---------------------------------------------------------------- internals
    def _layout(self) -> None:
        while self._grid.count():
            self._grid.takeAt(0)
        shown = self.shown_keys()
        for i, key in enumerate(shown):
            self._grid.addWidget(self.slots[key], i // self.columns, i % self.columns)
        shown_set = set(shown)
        for key, slot in self.slots.items():
            slot.setVisible(key in shown_set)
        self._fit_heights()
        self.schedule()

    def _fit_heights(self) -> None:
        rows = max(1, -(-len(self.shown_keys()) // self.columns))
        height = SLOT_HEIGHT
        if self.fill_height and rows <= 2:
            spare = self.scroll.viewport().height() - 16 - (rows - 1) * self._grid.spacing()
            height = max(SLOT_HEIGHT, spare // rows)
        for slot in self.slots.values():
            if slot.height() != height:
                slot.setFixedHeight(height)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._fit_heights()
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.LayoutRequest):
            self.schedule()
        return False

    def showEvent(self, event: QEvent) -> None:  # type: ignore[override]
        super().showEvent(event)
        self.schedule()
