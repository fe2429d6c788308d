"""Compare runs: their metrics overlaid (one chart per metric, one series per run), a table of
the settings and final metric values that differ between them (the differing cells tinted), and
two of them diffed as `trainyard job diff` does (environment packages, settings, code).

Reads go through `fetch_compare` in the background (never two at once); while any of the runs
is active the view polls, so the charts grow live.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.compare.envdiff import EnvDiffPanel
from studio.compare.fetch import CompareState, CompareUpdate, fetch_compare
from studio.compare.fields import METRIC_PREFIX, MISSING, field_rows, final_metrics
from studio.errors import show_error
from studio.plots.chart_grid import ChartGrid
from studio.plots.colors import series_color
from studio.plots.controls import PlotControls, PlotOptions
from studio.plots.metric_plot import MetricPlot
from studio.plots.xmetric import XMetricPoints
from studio.style import STATUS_COLORS, color_icon, heading, muted, plural, status_label
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState, Page, scroll_area

log = logging.getLogger(__name__)

REFRESH_MS = 500


def swatch_icon(color: str, size: int = 12) -> QIcon:
    return color_icon(color, size, rounded_square=True)


class CompareView(Page):
    def __init__(self, engine: Any, bridge: Any, run_names: list[str], parent: QWidget | None = None) -> None:
        super().__init__("Compare runs", parent)
        self.engine = engine
        self.bridge = bridge
        self.run_names = list(dict.fromkeys(run_names))
        self.colors = {name: series_color(i) for i, name in enumerate(self.run_names)}
        self.runs: dict[str, E.Run] = {}
        self.summaries: dict[str, list[E.MetricSummary]] = {}
        self._chosen: list[str] | None = None  # None: the default (the metrics the runs share)
        self._state = CompareState(self.run_names)
        self._busy = False
        self._ready = False
        self._requested: set[str] = set()
        self._last_error = ""
        self.count_label.setText(plural(len(self.run_names), "run"))

        # Left: the runs with their colours, and the metric picker.
        side = QWidget()
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 8, 0)
        side_lay.setSpacing(6)
        side_lay.addWidget(heading("Runs", 1.1))
        self.run_list = QListWidget()
        self.run_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.run_list.setFrameShape(QFrame.Shape.NoFrame)
        self.run_list.setIconSize(QSize(12, 12))
        self.run_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.run_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.run_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.run_list.viewport().setAutoFillBackground(False)  # a legend, not an input: no white box
        for name in self.run_names:
            item = QListWidgetItem(swatch_icon(self.colors[name]), name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.run_list.addItem(item)
        rows = max(1, min(len(self.run_names), 8))
        self.run_list.setFixedHeight(rows * self.run_list.sizeHintForRow(0) + 4)
        side_lay.addWidget(self.run_list)
        side_lay.addSpacing(8)
        side_lay.addWidget(heading("Metrics", 1.1))
        self.metric_filter = QLineEdit()
        self.metric_filter.setPlaceholderText("Filter metrics")
        self.metric_filter.setClearButtonEnabled(True)
        self.metric_filter.textChanged.connect(self._filter_metrics)
        side_lay.addWidget(self.metric_filter)
        self.metric_list = QListWidget()
        self.metric_list.itemChanged.connect(self._metric_toggled)
        side_lay.addWidget(self.metric_list, 1)
        self.picked_label = muted(QLabel())
        side_lay.addWidget(self.picked_label)

        # Right: the charts, and the table of differences.
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        charts = QWidget()
        charts_lay = QVBoxLayout(charts)
        charts_lay.setContentsMargins(0, 8, 0, 0)
        self.controls = PlotControls()
        self._x = XMetricPoints()  # the x metric's points per run, when it is not a chart here
        self.controls.optionsChanged.connect(self._options_changed)
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.controls)
        charts_lay.addLayout(bar)
        self.scroll = scroll_area()
        body = QWidget()
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(0, 4, 4, 4)
        self.grid = ChartGrid(self.scroll, 2, fill_height=True)
        self.grid.plotCreated.connect(self._plot_created)
        body_lay.addWidget(self.grid)
        self.no_metrics = EmptyState("No metric chosen", "Tick the metrics to overlay in the list on the left.")
        body_lay.addWidget(self.no_metrics, 1)
        body_lay.addStretch(1)
        self.scroll.setWidget(body)
        charts_lay.addWidget(self.scroll, 1)
        self.tabs.addTab(charts, "Metrics")

        fields = QWidget()
        fields_lay = QVBoxLayout(fields)
        fields_lay.setContentsMargins(0, 8, 0, 0)
        top = QHBoxLayout()
        self.fields_summary = muted(QLabel())
        top.addWidget(self.fields_summary)
        top.addStretch(1)
        self.show_all = QCheckBox("Show fields that are the same")
        self.show_all.toggled.connect(self._fill_fields)
        top.addWidget(self.show_all)
        fields_lay.addLayout(top)
        self.fields_model = QStandardItemModel()
        self.fields_view = QTableView()
        self.fields_view.setModel(self.fields_model)
        self.fields_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields_view.setAlternatingRowColors(True)
        self.fields_view.setWordWrap(False)
        self.fields_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.fields_view.verticalHeader().setVisible(False)
        self.fields_view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        header = self.fields_view.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        fields_lay.addWidget(self.fields_view, 1)
        self.tabs.addTab(fields, "Parameters && metrics")
        self.env_diff = EnvDiffPanel(engine, self.run_names)
        self.tabs.addTab(self.env_diff, "Environment && code")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(side)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 940])
        splitter.setChildrenCollapsible(False)
        self.set_body(splitter, EmptyState(
            "No runs to compare",
            "In the Runs list, select two or more runs (Ctrl+click) and choose Compare."))
        self.show_table(bool(self.run_names))

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        bridge.runsChanged.connect(self._on_runs_changed)
        if self.run_names:
            self.refresh()
            self._timer.start()

    # ---------------------------------------------------------------- public
    @property
    def plots(self) -> dict[str, MetricPlot]:
        return self.grid.plots

    def is_ready(self) -> bool:
        """True once the first read is shown (and the two runs' diff, on its tab)."""
        return self._ready and (self.tabs.currentWidget() is not self.env_diff or self.env_diff.is_ready())

    def show_tab(self, name: str) -> None:
        """metrics, fields or environment."""
        self.tabs.setCurrentIndex(("metrics", "fields", "environment").index(name))

    def is_polling(self) -> bool:
        return self._timer.isActive()

    def chosen_metrics(self) -> list[str]:
        return list(self.grid.slots)

    def choose_metrics(self, keys: list[str]) -> None:
        """Overlay exactly these metrics (as if ticked in the list)."""
        self._chosen = list(keys)
        self._fill_metric_list()
        self._apply_choice()

    def field_table(self) -> list[list[str]]:
        """The differences table as shown: [field, value per run...] per row."""
        m = self.fields_model
        return [[m.item(r, c).text() for c in range(m.columnCount())] for r in range(m.rowCount())]

    def stop(self) -> None:
        self._timer.stop()

    def refresh(self) -> None:
        if self._busy or not self.run_names:
            return
        self._busy = True
        state = self._state
        state.counts = {name: {key: plot.point_count(name) for key, plot in self.grid.plots.items()}
                        for name in self.run_names}
        if self._x.key and self._x.key not in self.grid.plots:  # the x metric, read for the axis alone
            for name in self.run_names:
                state.counts[name][self._x.key] = self._x.count(name)
        self._requested = set(self.grid.plots)
        engine = self.engine
        (BackgroundOp(self, lambda: fetch_compare(engine, state))
         .success(self._apply).failure(self._failed).run())

    # ---------------------------------------------------------------- updates
    def _apply(self, update: CompareUpdate) -> None:
        self._busy = False
        self._last_error = ""
        first = not self._ready
        self.runs.update(update.runs)
        self.summaries.update(update.summaries)
        for (name, key), new in update.points.items():
            plot = self.grid.plots.get(key)
            if plot is None:
                if key == self._x.key:
                    self._x.add(name, new.start, new.history)
                continue
            h = new.history
            if new.start == 0:
                plot.set_series(name, h.steps, h.values, h.timestamps, label=self._label(name),
                                color=self.colors[name])
            elif new.start == plot.point_count(name):
                plot.append_series(name, h.steps, h.values, h.timestamps)
        self._update_x_axes()
        if update.runs:
            self._update_runs()
            self._fill_fields()
        if update.summaries:
            if not update.runs:
                self._fill_fields()  # final metric values changed
            self._fill_metric_list()
            if self._chosen is None or first:
                self._apply_choice()
        if all(r.is_terminal for r in self.runs.values()) and len(self.runs) == len(self.run_names) \
                and not update.has_news:
            self._timer.stop()
        # Ready once a read has covered every chart shown (the first read only learns the metrics).
        if set(self.grid.plots) <= self._requested and (self.grid.plots or not self.chosen_metrics()):
            self._ready = True

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        if str(exc) != self._last_error:
            self._last_error = str(exc)
            if not self._ready:
                self._timer.stop()
                show_error(self, exc)
            else:
                log.warning("refreshing the comparison failed: %s", exc)

    def _on_runs_changed(self, runs: list[E.Run]) -> None:
        if not self._timer.isActive() and any(r.name in self._state.runs for r in runs):
            self._resume()

    def _resume(self) -> None:
        if not self._timer.isActive() and self.run_names:
            self._timer.start()
        self.refresh()

    def _plot_created(self, key: str) -> None:
        self._resume()

    def _label(self, name: str) -> str:
        run = self.runs.get(name)
        return run.display_name or name if run is not None else name

    def _update_runs(self) -> None:
        for i in range(self.run_list.count()):
            item = self.run_list.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            run = self.runs.get(name)
            if run is None:
                continue
            item.setText(self._label(name))
            item.setToolTip(f"{name}\n{status_label(run.status)} · experiment {run.experiment_name}")

    # ---------------------------------------------------------------- metrics
    def _scalar_keys(self) -> tuple[list[str], set[str]]:
        """(every scalar key of any run, sorted; the keys every run has)."""
        per_run = [{s.key for s in self.summaries.get(n, []) if s.kind == "scalar"} for n in self.run_names]
        union = sorted(set().union(*per_run)) if per_run else []
        shared = set.intersection(*per_run) if per_run else set()
        return union, shared

    def _default_choice(self) -> list[str]:
        union, shared = self._scalar_keys()
        return sorted(shared) or union

    def _fill_metric_list(self) -> None:
        union, shared = self._scalar_keys()
        self.controls.set_metric_keys(union)  # any of them as the x axis
        chosen = set(self._chosen if self._chosen is not None else self._default_choice())
        self.metric_list.blockSignals(True)
        self.metric_list.clear()
        for key in union:
            item = QListWidgetItem(key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in chosen else Qt.CheckState.Unchecked)
            have = sum(any(s.key == key for s in self.summaries.get(n, [])) for n in self.run_names)
            item.setToolTip(f"logged by {have} of {len(self.run_names)} runs")
            if key not in shared:
                f = item.font()
                f.setItalic(True)
                item.setFont(f)
            self.metric_list.addItem(item)
        self.metric_list.blockSignals(False)
        self._filter_metrics(self.metric_filter.text())

    def _filter_metrics(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.metric_list.count()):
            item = self.metric_list.item(i)
            item.setHidden(text not in item.text().lower())

    def _metric_toggled(self, _item: QListWidgetItem) -> None:
        self._chosen = [self.metric_list.item(i).text() for i in range(self.metric_list.count())
                        if self.metric_list.item(i).checkState() == Qt.CheckState.Checked]
        self._apply_choice()

    def _apply_choice(self) -> None:
        chosen = self._chosen if self._chosen is not None else self._default_choice()
        self.grid.set_keys(chosen, drop_others=True)
        self.grid.setVisible(bool(chosen))
        self.no_metrics.setVisible(not chosen and bool(self.summaries))
        union, _shared = self._scalar_keys()
        self.picked_label.setText(f"{len(chosen)} of {plural(len(union), 'metric')} shown")

    def _options_changed(self, options: PlotOptions) -> None:
        self.grid.set_options(options)
        x_key = options.x_metric if options.x_mode == "metric" else ""
        if x_key != self._x.key:
            self._x.reset(x_key)
            self._update_x_axes()
            self._resume()  # read the x metric's points

    def _update_x_axes(self) -> None:
        """Each run's series is plotted against that run's own x metric points."""
        x_plot = self.grid.plots.get(self._x.key)
        for name in self.run_names:
            axis = self._x.axis(name, x_plot.series.get(name) if x_plot is not None else None)
            for plot in self.grid.plots.values():
                if plot.step_axis(name) is not axis:
                    plot.set_step_axis(axis, name)

    # ---------------------------------------------------------------- differences
    def _fill_fields(self) -> None:
        runs = [self.runs[n] for n in self.run_names if n in self.runs]
        metrics = [final_metrics(self.summaries.get(r.name, [])) for r in runs]
        rows = field_rows(runs, show_all=self.show_all.isChecked(), metrics=metrics)
        m = self.fields_model
        m.clear()
        m.setColumnCount(1 + len(runs))
        m.setHorizontalHeaderItem(0, QStandardItem("Field"))
        for c, run in enumerate(runs, start=1):
            head = QStandardItem(swatch_icon(self.colors[run.name]), self._label(run.name))
            head.setToolTip(run.name)
            m.setHorizontalHeaderItem(c, head)
        bold = QFont(self.fields_view.font())
        bold.setWeight(QFont.Weight.DemiBold)
        tint = QColor(STATUS_COLORS["Queued"])
        tint.setAlpha(56)
        for row in rows:
            cells = [QStandardItem(row.name), *(QStandardItem(v) for v in row.values)]
            for cell in cells:
                cell.setToolTip(cell.text())
            if row.differs:
                cells[0].setFont(bold)
                # The cells that differ from the first run's value are tinted (all but the first,
                # with two runs; with more, the odd ones out stand out).
                for cell, v in zip(cells[2:], row.values[1:]):
                    if v != row.values[0]:
                        cell.setBackground(QBrush(tint))
                        cell.setToolTip(f"{cell.text()}\n(differs from {runs[0].name}: {row.values[0]})")
            for cell, v in zip(cells[1:], row.values):
                if v == MISSING:
                    cell.setForeground(self.palette().placeholderText())
            m.appendRow(cells)
        settings = [r for r in rows if r.differs and not r.name.startswith(METRIC_PREFIX)]
        finals = [r for r in rows if r.differs and r.name.startswith(METRIC_PREFIX)]
        parts = []
        if settings:
            parts.append(f"{plural(len(settings), 'field')} differ" + ("s" if len(settings) == 1 else ""))
        if finals:
            parts.append(f"{plural(len(finals), 'final metric value')} differ" + ("s" if len(finals) == 1 else ""))
        self.fields_summary.setText(" · ".join(parts) if parts else
                                    "These runs were launched with the same settings and ended with the same metrics.")
        self.fields_view.setColumnWidth(0, max(160, self.fields_view.sizeHintForColumn(0) + 24))
        for c in range(1, m.columnCount()):
            self.fields_view.setColumnWidth(c, min(320, max(140, self.fields_view.sizeHintForColumn(c) + 24)))
