"""The Runs page: every run of the workspace, filterable, live."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QWidget

from engine import entities as E
from engine.errors import NotFound
from studio.errors import show_error
from studio.models.runs import COL_STARTED, RUN_ROLE, SORT_ROLE, RunTableModel
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState, FilterProxy, Page, make_table

EMPTY_TEXT = "Drop a project folder here or use File ▸ Open Project… to submit your first run."


class RunBrowser(Page):
    """Lists the runs held by a shared `RunTableModel`; `openRun(name)` asks for the detail."""

    openRun = Signal(str)

    def __init__(self, engine: Any, bridge: Any, model: RunTableModel, parent: QWidget | None = None) -> None:
        super().__init__("Runs", parent)
        self.engine = engine
        self.bridge = bridge
        self.model = model
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(model)
        self.filter_edit = self.add_filter("Filter by name, status, experiment or compute", self.proxy)
        self.table = make_table(
            self.proxy,
            ["wonderful_river_abcd1234x", "Completed ", "experiment-name", "compute",
             "Yesterday 00:00:00", "10m 00s"],
            stretch=0,
        )
        self.table.sortByColumn(COL_STARTED, Qt.SortOrder.DescendingOrder)
        self.table.activated.connect(self._activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.empty = EmptyState("No runs yet", EMPTY_TEXT)
        self.set_body(self.table, self.empty)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset,
                       self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            signal.connect(self._update_counts)
        self._update_counts()

    def is_ready(self) -> bool:
        return bool(self.bridge.is_loaded)

    def _update_counts(self, *_: object) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        self.show_table(total > 0)
        noun = "run" if total == 1 else "runs"
        self.count_label.setText(f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}")

    def run_at(self, proxy_row: int) -> E.Run:
        return self.proxy.index(proxy_row, 0).data(RUN_ROLE)

    def _activated(self, index: QModelIndex) -> None:
        run = index.siblingAtColumn(0).data(RUN_ROLE)
        if run is not None:
            self.openRun.emit(run.name)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        run: E.Run = index.siblingAtColumn(0).data(RUN_ROLE)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.openRun.emit(run.name))
        cancel = menu.addAction("Cancel", lambda: self.cancel_run(run.name))
        cancel.setEnabled(not run.is_terminal and not run.cancel_requested)
        menu.addSeparator()
        menu.addAction("Open run folder", lambda: open_folder(self, run.run_dir))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def cancel_run(self, name: str) -> BackgroundOp:
        return (
            BackgroundOp(self, lambda: self.engine.cancel(name), serial=True)
            .success(lambda _run: self.bridge.poke())
            .with_progress(f"Canceling {name}…")
            .run()
        )


def open_folder(parent: QWidget, path: str) -> None:
    """Show a folder in the desktop's file manager."""
    from pathlib import Path

    if not Path(path).is_dir() or not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        show_error(parent, NotFound(f"cannot open the folder {path}",
                                    "it may have been removed, or no file manager is set up on this desktop"))
