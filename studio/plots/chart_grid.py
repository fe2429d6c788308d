"""A grid of metric charts, created only when scrolled into view.

A run can log hundreds of metrics; building a pyqtgraph chart costs a few milliseconds and its
data costs a read, so each metric first gets an empty slot of the chart's size, and the chart is
built (and `plotCreated` asks for its data) when the slot comes near the visible part of the
scroll area.

Charts are grouped by the prefix of their names (`train/`, `val/`, ...: a heading per group,
names without a prefix first). Metrics with a single value (a learning rate logged once) are not
charts on an empty axis but rows of a values table above them (`set_values`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.format import fmt_value
from studio.plots.controls import PlotOptions
from studio.plots.export import add_export_actions
from studio.plots.metric_plot import MetricPlot
from studio.style import heading

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
        add_export_actions(self.plot)  # right-click: PNG of the chart, CSV of its points
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
        self._values: dict[str, object] = {}  # single-value metrics: a table row each, no chart
        self.values_table = QTableWidget(0, 2, self)
        self.values_table.setHorizontalHeaderLabels(["Metric", "Value"])
        self.values_table.verticalHeader().hide()
        self.values_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.values_table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.values_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.values_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.values_table.hide()
        self.group_titles: dict[str, QLabel] = {}
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

    def set_values(self, values: dict[str, object]) -> None:
        """The metrics that have one value so far: shown as table rows instead of charts (a key
        that gets a second point becomes a chart again)."""
        if values == self._values:
            return
        self._values = dict(values)
        self._layout()

    def chart_keys(self) -> list[str]:
        """The charts shown: matching the filter, not single values; grouped by prefix."""
        keys = [k for k in self.slots if self._filter in k.lower() and k not in self._values]
        return sorted(keys, key=lambda k: (group_of(k) != "", group_of(k), k))

    def value_keys(self) -> list[str]:
        return sorted(k for k in self._values if self._filter in k.lower())

    def set_filter(self, text: str) -> None:
        self._filter = text.strip().lower()
        self._layout()

    def set_options(self, options: PlotOptions) -> None:
        self.options = options
        for plot in self.plots.values():
            plot.set_options(options)

    def shown_keys(self) -> list[str]:
        """Every metric shown, as a chart or as a value."""
        return [*self.chart_keys(), *self.value_keys()]

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
        for key in self.chart_keys():
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
        row = 0
        values = self.value_keys()
        self.values_table.setVisible(bool(values))
        if values:
            self._fill_values(values)
            self._grid.addWidget(self.values_table, row, 0, 1, self.columns)
            row += 1
        shown = self.chart_keys()
        groups = [group_of(k) for k in shown]
        titled = len(set(groups)) > 1 or any(groups)
        used_titles: set[str] = set()
        col = 0
        for key, group in zip(shown, groups, strict=True):
            if titled and group not in used_titles:
                if col:
                    row, col = row + 1, 0
                title = self.group_titles.get(group)
                if title is None:
                    title = self.group_titles[group] = heading(f"{group}/" if group else "Other", 1.1, self)
                self._grid.addWidget(title, row, 0, 1, self.columns)
                used_titles.add(group)
                row += 1
            self._grid.addWidget(self.slots[key], row, col)
            col += 1
            if col == self.columns:
                row, col = row + 1, 0
        for group, title in self.group_titles.items():
            title.setVisible(group in used_titles)
        shown_set = set(shown)
        for key, slot in self.slots.items():
            slot.setVisible(key in shown_set)
        self._fit_heights()
        self.schedule()

    def _fill_values(self, keys: list[str]) -> None:
        table = self.values_table
        table.setRowCount(len(keys))
        for r, key in enumerate(keys):
            name = QTableWidgetItem(key)
            name.setToolTip(key)
            value = QTableWidgetItem(fmt_value(self._values[key]))
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, 0, name)
            table.setItem(r, 1, value)
        rows_height = sum(table.rowHeight(r) for r in range(len(keys)))
        table.setFixedHeight(table.horizontalHeader().height() + rows_height + 2 * table.frameWidth())

    def _fit_heights(self) -> None:
        rows = max(1, -(-len(self.chart_keys()) // self.columns))
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


def group_of(key: str) -> str:
    """'val' for 'val/loss'; '' for a name without a prefix."""
    return key.split("/", 1)[0] if "/" in key else ""
