"""The Experiments page: experiment names with their run counts and latest run."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QWidget

from engine import entities as E
from studio.models.experiments import COL_LATEST, NAME_ROLE, SORT_ROLE, ExperimentTableModel, summarise
from studio.models.runs import RunTableModel
from studio.widgets import EmptyState, FilterProxy, Page, make_table


class ExperimentBrowser(Page):
    """`showRuns(experiment)` asks for the Runs page filtered to one experiment."""

    showRuns = Signal(str)

    def __init__(self, bridge: Any, runs: RunTableModel, parent: QWidget | None = None) -> None:
        super().__init__("Experiments", parent)
        self.bridge = bridge
        self.runs = runs
        self._experiments: list[E.Experiment] = []
        self.model = ExperimentTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter experiments", self.proxy)
        self.table = make_table(
            self.proxy,
            ["an-experiment-name", "Runs ", "Active ", "wonderful_river_abcd1234x", "Completed  ",
             "Yesterday 00:00"],
            stretch=0,
        )
        self.table.sortByColumn(COL_LATEST, Qt.SortOrder.DescendingOrder)
        self.table.activated.connect(self._activated)
        self.empty = EmptyState(
            "No experiments yet",
            "An experiment groups the runs submitted under one name. Drop a project folder here "
            "or use File ▸ Open Project… to start one.",
        )
        self.set_body(self.table, self.empty)
        bridge.experimentsChanged.connect(self._on_experiments)
        bridge.runsChanged.connect(self._refresh)

    def is_ready(self) -> bool:
        return bool(self.bridge.is_loaded)

    def _on_experiments(self, experiments: list[E.Experiment]) -> None:
        self._experiments = experiments
        self._refresh()

    def _refresh(self, *_: object) -> None:
        self.model.set_rows(summarise(self._experiments, self.runs.runs()))
        n = self.model.rowCount()
        self.show_table(n > 0)
        self.count_label.setText(f"{n} experiment" + ("" if n == 1 else "s"))

    def _activated(self, index: QModelIndex) -> None:
        name = index.data(NAME_ROLE)
        if name:
            self.showRuns.emit(name)
