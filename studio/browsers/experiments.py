"""The Experiments page: each experiment's runs, its latest run, and its primary metric.

Run counts come from the runs the window already holds (live); the primary metrics are read from
the store in the background when the page is shown and, while it is shown, as runs change.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QPushButton, QWidget

from engine import entities as E
from studio.browsers.detail import DetailPane, split
from studio.browsers.page import TablePage
from studio.browsers.refresh import Refresher
from studio.models.experiments import (
    COL_LATEST,
    NAME_ROLE,
    SORT_ROLE,
    ExperimentTableModel,
    RecentRunsModel,
    goal_arrow,
    summarise,
)
from studio.models.rows import ROW_ROLE
from studio.models.runs import RunTableModel
from studio.style import fmt_time_full, fmt_value, heading, plural
from studio.widgets import EmptyState, FilterProxy, make_table

COALESCE_MS = 300  # many runs change at once while they stream: re-summarise once
METRICS_EVERY_MS = 5000  # at most this often while runs change


class ExperimentBrowser(TablePage):
    """`showRuns(experiment)` asks for the Runs page filtered to one experiment; `openRun(name)`
    for one run's detail."""

    showRuns = Signal(str)
    openRun = Signal(str)

    def __init__(self, engine: Any, bridge: Any, runs: RunTableModel, parent: QWidget | None = None) -> None:
        super().__init__("Experiments", parent)
        self.setObjectName("experiments")
        self.engine = engine
        self.bridge = bridge
        self.runs = runs
        self._experiments: list[E.Experiment] = []
        self._metrics: dict[str, Any] = {}
        self.model = ExperimentTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter experiments", self.proxy)
        self.table = make_table(
            self.proxy,
            ["an-experiment-name", "Runs", "Active", "Today 00:00:00", "accuracy ↑", "0.123456", "0.123456"],
            stretch=0,
        )
        self.table.sortByColumn(COL_LATEST, Qt.SortOrder.DescendingOrder)
        self.table.activated.connect(self._activated)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.detail = DetailPane("Select an experiment to see its recent runs.")
        self.all_runs_button = QPushButton("Show all runs")
        self.all_runs_button.clicked.connect(self._show_all_runs)
        self.detail.actions.addWidget(self.all_runs_button)
        self.detail.actions.addStretch(1)
        self.recent_title = heading("Recent runs", 1.0)
        self.recent_model = RecentRunsModel(self)
        self.recent_table = make_table(self.recent_model, ["wonderful_river_abcd", "Completed", "Yesterday 00:00",
                                                           "10m 00s"], stretch=0)
        self.recent_table.setColumnHidden(2, True)  # started: the runs are newest first already
        self.recent_table.setSortingEnabled(False)
        self.recent_table.activated.connect(self._recent_activated)
        self.detail.body.addSpacing(6)
        self.detail.body.addWidget(self.recent_title)
        self.detail.body.addWidget(self.recent_table, 1)

        self.empty = EmptyState(
            "No experiments yet",
            "An experiment groups the runs submitted under one name. Drop a project folder here "
            "or use File ▸ Open Project… to start one.",
        )
        self.set_body(split(self.table, self.detail), self.empty)
        self._coalesce = QTimer(self)
        self._coalesce.setSingleShot(True)
        self._coalesce.setInterval(COALESCE_MS)
        self._coalesce.timeout.connect(self._refresh)
        self._metrics_timer = QTimer(self)
        self._metrics_timer.setSingleShot(True)
        self._metrics_timer.setInterval(METRICS_EVERY_MS)
        self._metrics_timer.timeout.connect(self._load_metrics_if_shown)
        self._dirty = True
        self.metrics = Refresher(self, engine.experiment_metrics, self._metrics_loaded)
        bridge.experimentsChanged.connect(self._on_experiments)
        bridge.runsChanged.connect(self._on_runs)

    def is_ready(self) -> bool:
        return bool(self.bridge.is_loaded) and self.metrics.loaded

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self._refresh()
        self.metrics.request()

    def _on_experiments(self, experiments: list[E.Experiment]) -> None:
        self._experiments = experiments
        self._refresh()

    def _on_runs(self, _runs: list[E.Run]) -> None:
        self._dirty = True
        if self.isVisible():
            self._coalesce.start()
            if not self._metrics_timer.isActive():
                self._metrics_timer.start()

    def _load_metrics_if_shown(self) -> None:
        if self.isVisible():
            self.metrics.request()

    def _metrics_loaded(self, metrics: dict[str, Any]) -> None:
        self._metrics = metrics
        self._refresh()

    def _refresh(self, *_: object) -> None:
        self._dirty = False
        self.model.set_rows(summarise(self._experiments, self.runs.runs(), self._metrics))
        n = self.model.rowCount()
        self.show_table(n > 0)
        self.count_label.setText(plural(n, "experiment"))
        if not self.table.selectionModel().hasSelection() and n:
            self.table.selectRow(0)
        else:
            self._show_selected()

    def _show_selected(self) -> None:
        row = self.selected()
        if row is None:
            self.detail.show_hint()
            return
        m = row.metric
        metric = ""
        if m is not None:
            metric = f"{m.key} {goal_arrow(m)} ({'lower' if m.goal == 'minimize' else 'higher'} is better)"
        self.detail.set_header(row.experiment.name)
        self.detail.set_fields([
            ("Runs", plural(row.run_count, "run") + (f", {row.active} active" if row.active else "")),
            ("Created", fmt_time_full(row.experiment.created_at)),
            ("Primary metric", metric),
            ("Best", "" if m is None or m.best is None else f"{fmt_value(m.best)} in {m.best_run}"),
            ("Latest", "" if m is None or m.latest is None else f"{fmt_value(m.latest)} in {m.latest_run}"),
        ])
        self.recent_model.set_rows(row.recent)
        self.recent_title.setText("Recent runs" if row.recent else "No runs yet")
        self.recent_table.setVisible(bool(row.recent))

    def _activated(self, index: QModelIndex) -> None:
        name = index.data(NAME_ROLE)
        if name:
            self.showRuns.emit(name)

    def _show_all_runs(self) -> None:
        row = self.selected()
        if row is not None:
            self.showRuns.emit(row.experiment.name)

    def _recent_activated(self, index: QModelIndex) -> None:
        run = index.data(ROW_ROLE)
        if run is not None:
            self.openRun.emit(run.name)
