"""The Metrics tab: a live chart per scalar metric (built when scrolled into view), the run's
system metrics (``system/...``: CPU, memory, GPUs, I/O) in their own section, tables for
lists/rows/tables, and a gallery of logged images, under one filter and one set of plot options.

The tab tells the page what it already shows (`point_counts`, `object_counts`); the page's fetch
then reads only what is new, and `apply` appends it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.plots.chart_grid import ChartGrid
from studio.plots.controls import PlotControls, PlotOptions
from studio.plots.metric_plot import DEFAULT_SERIES, MetricPlot
from studio.plots.xmetric import XMetricPoints
from studio.rundetail.fetch import DetailUpdate
from studio.rundetail.gallery import ImageGallery, logged_images
from studio.rundetail.objects import ObjectTables
from studio.style import heading, muted, plural
from studio.widgets import EmptyState, scroll_area

COLUMNS = 2
SYSTEM_PREFIX = "system/"  # engine.runs.sysmetrics.PREFIX: the supervisor's samples of the run


class MetricsTab(QWidget):
    """`needsData()`: a chart was just built (scrolled into view) and waits for its points."""

    needsData = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summaries: dict[str, E.MetricSummary] = {}
        self._object_counts: dict[str, int] = {}
        self._run_dir: Path | None = None
        self._x = XMetricPoints()  # the x metric's points, when it has no chart of its own

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 10, 0, 0)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        bar.setContentsMargins(12, 0, 12, 0)
        bar.setSpacing(8)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter metrics by name")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumWidth(self.filter.fontMetrics().horizontalAdvance("Filter metrics by name") + 48)
        self.filter.setMaximumWidth(320)
        self.filter.textChanged.connect(self._filter_changed)
        bar.addWidget(self.filter, 1)
        self.count_label = muted(QLabel())
        bar.addWidget(self.count_label)
        bar.addStretch(1)
        self.controls = PlotControls()
        self.controls.optionsChanged.connect(self.set_options)
        bar.addWidget(self.controls)
        self.bar = QWidget()
        self.bar.setLayout(bar)
        lay.addWidget(self.bar)

        self.scroll = scroll_area()
        body = QWidget()
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(12, 4, 12, 12)
        body_lay.setSpacing(12)
        self.grid = ChartGrid(self.scroll, COLUMNS)
        self.grid.plotCreated.connect(lambda _key: self.needsData.emit())
        body_lay.addWidget(self.grid)
        self.system_title = heading("System", 1.2)
        self.system_grid = ChartGrid(self.scroll, COLUMNS)
        self.system_grid.plotCreated.connect(lambda _key: self.needsData.emit())
        for w in (self.system_title, self.system_grid):
            w.hide()
            body_lay.addWidget(w)
        self.tables_title = heading("Tables", 1.2)
        self.tables = ObjectTables()
        self.images_title = heading("Images", 1.2)
        self.gallery = ImageGallery()
        for w in (self.tables_title, self.tables, self.images_title, self.gallery):
            w.hide()
            body_lay.addWidget(w)
        body_lay.addStretch(1)
        self.scroll.setWidget(body)

        self.empty = EmptyState(
            "No metrics yet",
            "Values the script logs with run.log(\"name\", value) are plotted here as they arrive.")
        self.no_match = EmptyState("No metric matches the filter", "Clear the filter box to see every metric.")
        self.stack = QStackedWidget()
        for w in (self.scroll, self.empty, self.no_match):
            self.stack.addWidget(w)
        self.stack.setCurrentWidget(self.empty)
        lay.addWidget(self.stack, 1)
        self.bar.hide()

    # ---------------------------------------------------------------- what the fetch needs
    @property
    def plots(self) -> dict[str, MetricPlot]:
        """The charts built so far (those scrolled into view at least once)."""
        return {**self.grid.plots, **self.system_grid.plots}

    def point_counts(self) -> dict[str, int]:
        counts = {key: plot.point_count() for key, plot in self.plots.items()}
        x_key = self._x_key()
        if x_key and x_key not in counts:
            counts[x_key] = self._x.count(DEFAULT_SERIES)
        return counts

    def object_counts(self) -> dict[str, int]:
        return dict(self._object_counts)

    def options(self) -> PlotOptions:
        return self.controls.options()

    # ---------------------------------------------------------------- updates
    def set_run_dir(self, run_dir: str) -> None:
        self._run_dir = Path(run_dir)

    def set_finished(self, finished: bool) -> None:
        if finished:
            self.empty.title.setText("No metrics")
            self.empty.text.setText("This run did not log any metrics.")

    def apply(self, update: DetailUpdate) -> None:
        self.summaries = {s.key: s for s in update.summaries}
        scalars = [s.key for s in update.summaries if s.kind == "scalar"]
        self.grid.set_keys([k for k in scalars if not k.startswith(SYSTEM_PREFIX)])
        self.system_grid.set_keys([k for k in scalars if k.startswith(SYSTEM_PREFIX)])
        self.controls.set_metric_keys([s.key for s in update.summaries
                                       if s.kind == "scalar" and s.count > 1 and not s.key.startswith(SYSTEM_PREFIX)])
        plots = self.plots
        for key, new in update.points.items():
            plot = plots.get(key)
            if plot is None:
                if key == self._x.key:
                    self._x.add(DEFAULT_SERIES, new.start, new.history)
                continue
            h = new.history
            if new.start == 0:
                plot.set_history(h.steps, h.values, h.timestamps)
            elif new.start == plot.point_count():
                plot.append_series("", h.steps, h.values, h.timestamps)
            # else: the chart changed while the read was in flight; the next fetch starts from its count.
        for key, objects in update.objects.items():
            kind = self.summaries[key].kind
            if kind == "image":
                if self._run_dir is not None:
                    self.gallery.set_images(logged_images(self._run_dir, key, objects))
            else:
                self.tables.set_objects(key, kind, objects)
            self._object_counts[key] = len(objects)
        # one point so far (a learning rate logged once): a value, not a chart on an empty axis
        self.grid.set_values({s.key: s.last_value for s in update.summaries if s.kind == "scalar" and s.count == 1})
        self._update_x_axis()
        self._show_sections()

    def set_options(self, options: PlotOptions) -> None:
        self.grid.set_options(options)
        self.system_grid.set_options(options)
        if self._x_key() != self._x.key:
            self._x.reset(self._x_key())
            self._update_x_axis()
            self.needsData.emit()  # the x metric's points, if its chart has not loaded them

    # ---------------------------------------------------------------- another metric as x
    def _x_key(self) -> str:
        options = self.options()
        return options.x_metric if options.x_mode == "metric" else ""

    def _update_x_axis(self) -> None:
        """Hand every chart the x metric's points when they changed (or a chart is new)."""
        plot = self.plots.get(self._x.key)
        axis = self._x.axis(DEFAULT_SERIES, plot.series.get(DEFAULT_SERIES) if plot is not None else None)
        for plot in self.plots.values():
            if plot.step_axis() is not axis:
                plot.set_step_axis(axis)

    # ---------------------------------------------------------------- layout
    def _filter_changed(self, text: str) -> None:
        self.grid.set_filter(text)
        self.system_grid.set_filter(text)
        self.tables.set_filter(text)
        self.gallery.set_filter(text)
        self._show_sections()

    def _show_sections(self) -> None:
        system = len(self.system_grid.shown_keys())
        charts = len(self.grid.shown_keys()) + system
        self.system_title.setVisible(system > 0)
        self.system_grid.setVisible(system > 0)
        self.system_title.setText(f"System ({system:,})" if system else "System")
        text = self.filter.text().strip().lower()
        tables = sum(text in key.lower() for key in self.tables.tables)
        images = self.gallery.shown_count()
        self.grid.setVisible(charts > system)
        for title, widget, n in ((self.tables_title, self.tables, tables), (self.images_title, self.gallery, images)):
            title.setVisible(n > 0)
            widget.setVisible(n > 0)
        self.images_title.setText(f"Images ({images:,})" if images else "Images")
        self.tables_title.setText(f"Tables ({tables:,})" if tables else "Tables")
        # Headings only help when there is more than charts alone.
        total = len(self.summaries)
        scalars = sum(s.kind == "scalar" for s in self.summaries.values())
        self.bar.setVisible(total > 0)
        self.controls.setVisible(scalars > 0)
        singles = len(self.grid.value_keys()) if not self.filter.text().strip() else 0
        parts = [plural(scalars - singles, "chart")] if scalars > singles else []
        if singles:
            parts.append(plural(singles, "value"))
        if len(self.tables.tables):
            parts.append(plural(len(self.tables.tables), "table"))
        if len(self.gallery.images):
            parts.append(plural(len(self.gallery.images), "image"))
        self.count_label.setText(" · ".join(parts))
        if total == 0:
            self.stack.setCurrentWidget(self.empty)
        elif charts + tables + images == 0:
            self.stack.setCurrentWidget(self.no_match)
        else:
            self.stack.setCurrentWidget(self.scroll)
