"""The Child runs tab: the runs this run submitted (`run.submit_child(...)`, later sweeps).

The list is read off the GUI thread when the tab is shown and whenever the bridge reports a
change to one of the children (or a new one); double-clicking a child opens it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.style import (
    fmt_duration,
    fmt_time,
    fmt_value,
    muted,
    plural,
    run_duration,
    status_icon,
    status_label,
)
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Status", "Primary metric", "Duration", "Created")
NAME_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class ChildRow:
    run: E.Run
    metric: str  # "key = value" of its primary metric, or ''


def primary_metric(run: E.Run, summaries: list[E.MetricSummary]) -> str:
    """The child's `primary_metric` (a property sweeps set) or else its first scalar metric."""
    scalars = {s.key: s for s in summaries if s.kind == "scalar"}
    key = run.properties.get("primary_metric")
    if key not in scalars:
        key = min(scalars) if scalars else None
    return f"{key} = {fmt_value(scalars[key].last_value)}" if key else ""


def load_children(engine: Any, name: str) -> list[ChildRow]:
    rows = []
    for child in engine.children(name):
        rows.append(ChildRow(child, primary_metric(child, engine.store.metric_summaries(child.name))))
    return rows


class ChildrenTab(QWidget):
    """`openRun(name)` when a child is double-clicked; `countChanged(n)` when the number changes."""

    openRun = Signal(str)
    countChanged = Signal(int)

    def __init__(self, engine: Any, bridge: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.rows: list[ChildRow] | None = None
        self._busy = False
        self._stale = True

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        self.summary = muted(QLabel())
        bar.addWidget(self.summary)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.table = QTreeWidget()
        self.table.setIconSize(QSize(10, 10))  # status dots as small as in the runs table
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setUniformRowHeights(True)
        self.table.setSortingEnabled(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)
        self.table.itemActivated.connect(lambda item, _c: self.openRun.emit(item.data(0, NAME_ROLE)))
        self.empty = EmptyState(
            "No child runs",
            "A run gets children when its script submits them with run.submit_child(config) "
            "(and, later, when it is a sweep). They are listed here as they start.")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        self.stack.setCurrentWidget(self.empty)
        lay.addWidget(self.stack, 1)
        bridge.runsChanged.connect(self._runs_changed)
        self.refresh()  # cheap, and the tab's title shows the count before it is opened

    # ---------------------------------------------------------------- public
    def names(self) -> list[str]:
        return [self.table.topLevelItem(i).data(0, NAME_ROLE) for i in range(self.table.topLevelItemCount())]

    def count(self) -> int:
        return len(self.rows or [])

    def refresh(self) -> None:
        if self._busy:
            self._stale = True
            return
        self._busy = True
        self._stale = False
        engine, name = self.engine, self.name
        (BackgroundOp(self, lambda: load_children(engine, name))
         .success(self._loaded)
         .failure(self._failed)
         .run())

    # ---------------------------------------------------------------- updates
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _runs_changed(self, runs: list[E.Run]) -> None:
        known = {r.run.name for r in self.rows or []}
        if any(r.parent_name == self.name or r.name in known for r in runs):
            self._stale = True
            if self.isVisible():
                self.refresh()
            elif self.rows is not None and any(r.parent_name == self.name and r.name not in known for r in runs):
                self.refresh()  # a new child: keep the tab's count right while it is hidden

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        log.warning("listing the child runs of %s failed: %s", self.name, exc)

    def _loaded(self, rows: list[ChildRow]) -> None:
        self._busy = False
        before = self.count() if self.rows is not None else None
        self.rows = rows
        selected = [i.data(0, NAME_ROLE) for i in self.table.selectedItems()]
        self.table.setSortingEnabled(False)
        self.table.clear()
        for row in rows:
            run = row.run
            item = _SortableItem([
                run.display_name if run.display_name == run.name else f"{run.display_name}  ({run.name})",
                status_label(run.status),
                row.metric,
                fmt_duration(run_duration(run.start_time, run.end_time)),
                fmt_time(run.created_at),
            ])
            item.setData(0, NAME_ROLE, run.name)
            item.setIcon(1, status_icon(run.status))
            item.setToolTip(0, f"{run.name} — double-click to open")
            item.setData(3, _SortableItem.KEY_ROLE, run_duration(run.start_time, run.end_time) or 0.0)
            item.setData(4, _SortableItem.KEY_ROLE, run.created_at)
            self.table.addTopLevelItem(item)
            if run.name in selected:
                item.setSelected(True)
        self.table.setSortingEnabled(True)
        self.stack.setCurrentWidget(self.table if rows else self.empty)
        active = sum(1 for r in rows if not r.run.is_terminal)
        text = plural(len(rows), "child run") if rows else ""
        if active:
            text += f", {active:,} active"
        self.summary.setText(text)
        if before != len(rows):
            self.countChanged.emit(len(rows))
        if self._stale and self.isVisible():
            self.refresh()


class _SortableItem(QTreeWidgetItem):
    """Sorts durations and times by their value, not their text."""

    KEY_ROLE = Qt.ItemDataRole.UserRole + 1

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        col = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(col, self.KEY_ROLE), other.data(col, self.KEY_ROLE)
        if a is not None and b is not None:
            return a < b
        return self.text(col).lower() < other.text(col).lower()
