"""What the browser pages (Experiments, Environments, Compute, Models, Data) share: a table whose
selected row the detail pane shows, and for pages that load their rows themselves, a Refresher
that loads them when the page is shown and when asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTableView

from studio.browsers.refresh import Refresher
from studio.models.rows import ROW_ROLE
from studio.widgets import Page


class TablePage(Page):
    """A page listing rows in `self.table` (through `self.proxy`); each row's object is its
    `row_role` data."""

    table: QTableView
    proxy: QSortFilterProxyModel
    row_role: int = ROW_ROLE

    def selected(self) -> Any:
        """The selected row's object, or None."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(self.row_role) if rows else None

    def select_where(self, match: Callable[[Any], bool]) -> bool:
        """Select the first row (in the table's order) whose object `match`es; False if none."""
        for r in range(self.proxy.rowCount()):
            if match(self.proxy.index(r, 0).data(self.row_role)):
                self.table.selectRow(r)
                return True
        return False


class RefreshedPage(TablePage):
    """A TablePage whose rows `self.refresher` loads: when the page is shown and on refresh()."""

    refresher: Refresher

    def is_ready(self) -> bool:
        return self.refresher.loaded

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresher.request()

    def refresh(self) -> None:
        self.refresher.request()
