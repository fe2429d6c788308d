"""The Models page: every registered model version and the run that produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QMenu, QWidget

from engine import entities as E
from studio.browsers.runs import open_folder
from studio.models.registry import COL_CREATED, MODEL_ROLE, SORT_ROLE, ModelTableModel
from studio.style import plural
from studio.widgets import EmptyState, FilterProxy, Page, make_table


class ModelBrowser(Page):
    """`openRun(name)` asks for the detail of the run that produced a model."""

    openRun = Signal(str)

    def __init__(self, bridge: Any, parent: QWidget | None = None) -> None:
        super().__init__("Models", parent)
        self.bridge = bridge
        self.model = ModelTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter models", self.proxy)
        self.table = make_table(
            self.proxy,
            ["a-model-name", "Version ", "wonderful_river_abcd1234x", "Yesterday 00:00", "model.pt  ",
             "Description"],
            stretch=5,
        )
        self.table.sortByColumn(COL_CREATED, Qt.SortOrder.DescendingOrder)
        self.table.activated.connect(self._activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.empty = EmptyState(
            "No models registered",
            "Register a file a run wrote with `trainyard model create --name NAME --run RUN "
            "--path outputs/model.pt`, or with run.register_model(...) from the training script.",
        )
        self.set_body(self.table, self.empty)
        bridge.modelsChanged.connect(self._on_models)

    def is_ready(self) -> bool:
        return bool(self.bridge.is_loaded)

    def _on_models(self, models: list[E.Model]) -> None:
        self.model.set_models(models)
        n = len(models)
        names = len({m.name for m in models})
        self.show_table(n > 0)
        self.count_label.setText(f"{plural(names, 'model')}, {plural(n, 'version')}")

    def _activated(self, index: QModelIndex) -> None:
        m: E.Model = index.siblingAtColumn(0).data(MODEL_ROLE)
        if m is not None and m.run_name:
            self.openRun.emit(m.run_name)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        m: E.Model = index.siblingAtColumn(0).data(MODEL_ROLE)
        menu = QMenu(self)
        run_action = menu.addAction("Open producing run", lambda: self.openRun.emit(m.run_name or ""))
        run_action.setEnabled(bool(m.run_name))
        folder = str(Path(m.path).parent)
        menu.addAction("Open model folder", lambda: open_folder(self, folder))
        menu.popup(self.table.viewport().mapToGlobal(pos))
