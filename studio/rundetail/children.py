"""The Child runs tab: the runs this run submitted (`run.submit_child(...)`) or, for a sweep run,
its trials.

The list is read off the GUI thread when the tab is shown and whenever the bridge reports a
change to one of the children (or a new one); double-clicking a child opens it. A sweep's trials
get a column per hyperparameter and one for the primary metric, the best trial is marked, trials
that early termination stopped say so, and a row of scatter charts (studio/rundetail/sweepchart.py)
shows the metric against each hyperparameter.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont
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
from engine.runtime.pipelineplan import REUSED_FROM
from studio.rundetail.sweepchart import SweepChart
from studio.rundetail.trials import (
    Children,
    ChildRow,
    SweepInfo,
    finite_number,
    fmt_param,
    load_children,
    sweep_summary,
)
from studio.style import (
    fmt_duration,
    fmt_time,
    fmt_value,
    muted,
    plural,
    run_duration,
    run_status_label,
    status_icon,
    status_label,
)
from studio.tasks import Reloader
from studio.widgets import EmptyState

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Status", "Primary metric", "Duration", "Created")
NAME_ROLE = Qt.ItemDataRole.UserRole
EMPTY = ("A run gets children when its script submits them with run.submit_child(config), "
         "or when it is a sweep. They are listed here as they start.")
EMPTY_SWEEP = "The sweep submits its trials as child runs; they are listed here as they start."
BEST_BADGE = "★ Best"


class ChildrenTab(QWidget):
    """`openRun(name)` when a child is double-clicked; `countChanged(n)` when the number changes."""

    openRun = Signal(str)
    countChanged = Signal(int)

    def __init__(self, engine: Any, bridge: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.rows: list[ChildRow] | None = None
        self.sweep: SweepInfo | None = None
        self._columns: tuple[str, ...] = COLUMNS
        engine, name = self.engine, self.name
        self.reloader = Reloader(self, lambda: load_children(engine, name), self._loaded, self._failed)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        self.summary = muted(QLabel())
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)  # a sweep's summary names the best trial's every parameter
        bar.addWidget(self.summary, 1)
        lay.addLayout(bar)
        self.chart = SweepChart()
        self.chart.setVisible(False)
        self.chart.trialClicked.connect(self.select)
        lay.addWidget(self.chart)
        self.table = QTreeWidget()
        self.table.setIconSize(QSize(10, 10))  # status dots as small as in the runs table
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setUniformRowHeights(True)
        self.table.setSortingEnabled(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._set_columns(COLUMNS)
        self.table.itemActivated.connect(lambda item, _c: self.openRun.emit(item.data(0, NAME_ROLE)))
        self.table.itemSelectionChanged.connect(
            lambda: self.chart.set_selected(next(iter(self.selected_names()), None)))
        self.empty = EmptyState("No child runs", EMPTY)
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

    def selected_names(self) -> list[str]:
        return [i.data(0, NAME_ROLE) for i in self.table.selectedItems()]

    def item(self, name: str) -> QTreeWidgetItem | None:
        return next((it for i in range(self.table.topLevelItemCount())
                     if (it := self.table.topLevelItem(i)).data(0, NAME_ROLE) == name), None)

    def columns(self) -> tuple[str, ...]:
        return self._columns

    def select(self, name: str) -> None:
        """Select child `name`'s row and scroll to it (a click on its point in the chart)."""
        item = self.item(name)
        if item is not None:
            self.table.setCurrentItem(item)
            self.table.scrollToItem(item)

    def count(self) -> int:
        return len(self.rows or [])

    def refresh(self) -> None:
        self.reloader.refresh()

    # ---------------------------------------------------------------- updates
    def _runs_changed(self, runs: list[E.Run]) -> None:
        known = {r.run.name for r in self.rows or []}
        # A sweep run records its best trial when it ends: that changes the marked row.
        if any(r.parent_name == self.name or r.name in known or (self.sweep is not None and r.name == self.name)
               for r in runs):
            self.reloader.changed()
            if not self.isVisible() and self.rows is not None and any(r.parent_name == self.name and r.name not in known for r in runs):
                self.refresh()  # a new child: keep the tab's count right while it is hidden

    def _failed(self, exc: BaseException) -> None:
        log.warning("listing the child runs of %s failed: %s", self.name, exc)

    def _set_columns(self, columns: tuple[str, ...]) -> None:
        self._columns = columns
        self.table.setColumnCount(len(columns))
        self.table.setHeaderLabels(list(columns))
        header = self.table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(columns)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.table.sortByColumn(len(columns) - 1, Qt.SortOrder.AscendingOrder)  # Created: oldest first

    def _loaded(self, children: Children) -> None:
        rows, sweep = children.rows, children.sweep
        before = self.count() if self.rows is not None else None
        self.rows, self.sweep = rows, sweep
        columns = COLUMNS if sweep is None else ("Name", "Status", *sweep.params, sweep.metric or "Primary metric",
                                                  "Duration", "Created")
        selected = self.selected_names()
        self.table.setSortingEnabled(False)
        self.table.clear()
        if columns != self._columns:
            self._set_columns(columns)
        if sweep is not None:  # numbers line up on the right, their titles too
            header = self.table.headerItem()
            for col, p in enumerate((*sweep.params, None), start=2):
                values = [r.run.params[p] for r in rows if p in r.run.params] if p else [r.value for r in rows]
                numeric = all(v is None or finite_number(v) is not None or isinstance(v, float) for v in values)
                side = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
                header.setTextAlignment(col, side | Qt.AlignmentFlag.AlignVCenter)
        for row in rows:
            item = self._sweep_item(row, sweep) if sweep is not None else self._item(row)
            self.table.addTopLevelItem(item)
            if row.run.name in selected:
                item.setSelected(True)
        self.table.setSortingEnabled(True)
        self.stack.setCurrentWidget(self.table if rows else self.empty)
        self.empty.title.setText("No trials yet" if sweep is not None else "No child runs")
        self.empty.text.setText(EMPTY_SWEEP if sweep is not None else EMPTY)
        self.chart.setVisible(sweep is not None and bool(sweep.params) and bool(rows))
        if sweep is not None:
            self.chart.set_trials(sweep, rows)
            self.chart.set_selected(next(iter(selected), None))
            self.summary.setText(sweep_summary(rows, sweep))
        else:
            active = sum(1 for r in rows if not r.run.is_terminal)
            text = plural(len(rows), "child run") if rows else ""
            if active:
                text += f", {active:,} active"
            self.summary.setText(text)
        if before != len(rows):
            self.countChanged.emit(len(rows))

    def _item(self, row: ChildRow) -> QTreeWidgetItem:
        run = row.run
        reused = run.properties.get(REUSED_FROM)  # a pipeline step that reused an earlier run's outputs
        item = SortableItem([
            run.display_name if run.display_name == run.name else f"{run.display_name}  ({run.name})",
            status_label(run.status) + (" (reused)" if reused else ""),
            row.metric,
            fmt_duration(run_duration(run.start_time, run.end_time)),
            fmt_time(run.created_at),
        ])
        self._common(item, run)
        if reused:
            item.setToolTip(1, f"Reused from {reused}: its outputs, not run again")
        return item

    def _sweep_item(self, row: ChildRow, sweep: SweepInfo) -> QTreeWidgetItem:
        run = row.run
        best = run.name == sweep.best
        name = run.display_name if run.display_name == run.name else f"{run.display_name}  ({run.name})"
        status = run_status_label(run)
        value = fmt_value(row.value)
        cells = [f"{name}   {BEST_BADGE}" if best else name, status,
                 *(fmt_param(run.params.get(p)) for p in sweep.params), value]
        item = SortableItem([*cells, fmt_duration(run_duration(run.start_time, run.end_time)),
                              fmt_time(run.created_at)])
        self._common(item, run)
        if run.error:  # a stopped trial: the policy's reason
            item.setToolTip(1, run.error)
        for col, p in enumerate(sweep.params, start=2):
            v = run.params.get(p)
            if p in run.params:  # the full value (the cell shows 4 significant digits)
                item.setToolTip(col, f"{p} = {v!r}" if isinstance(v, float) else f"{p} = {v}")
            item.setData(col, SortableItem.KEY_ROLE, finite_number(v))
            item.setData(col, SortableItem.MISSING_ROLE, p not in run.params or v is None)
            side = Qt.AlignmentFlag.AlignRight if finite_number(v) is not None else Qt.AlignmentFlag.AlignLeft
            item.setTextAlignment(col, side | Qt.AlignmentFlag.AlignVCenter)
        col = 2 + len(sweep.params)
        finite = row.value is not None and not math.isnan(row.value)
        item.setData(col, SortableItem.KEY_ROLE, row.value if finite else None)
        item.setData(col, SortableItem.MISSING_ROLE, not finite)
        item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if row.value is not None:
            item.setToolTip(col, f"{sweep.metric} = {row.value!r} (the trial's last value)")
        if best:
            font = QFont(item.font(0))
            font.setBold(True)
            for c in range(item.columnCount()):
                item.setFont(c, font)
            item.setToolTip(0, f"{run.name}: the best trial ({'lowest' if sweep.goal == 'minimize' else 'highest'} "
                               f"{sweep.metric}) — double-click to open")
        return item

    @staticmethod
    def _common(item: QTreeWidgetItem, run: E.Run) -> None:
        last = item.columnCount() - 1
        item.setData(0, NAME_ROLE, run.name)
        item.setIcon(1, status_icon(run.status))
        item.setToolTip(0, f"{run.name} — double-click to open")
        item.setData(last - 1, SortableItem.KEY_ROLE, run_duration(run.start_time, run.end_time) or 0.0)
        item.setData(last, SortableItem.KEY_ROLE, run.created_at)


class SortableItem(QTreeWidgetItem):
    """Sorts durations, times and numbers by their value, not their text; a missing value (or
    NaN) sorts last whichever the direction."""

    KEY_ROLE = Qt.ItemDataRole.UserRole + 1
    MISSING_ROLE = Qt.ItemDataRole.UserRole + 2

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        col = tree.sortColumn() if tree else 0
        a_missing, b_missing = bool(self.data(col, self.MISSING_ROLE)), bool(other.data(col, self.MISSING_ROLE))
        if a_missing != b_missing:
            descending = tree is not None and tree.header().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
            return descending if a_missing else not descending
        a, b = self.data(col, self.KEY_ROLE), other.data(col, self.KEY_ROLE)
        if a is not None and b is not None:
            return a < b
        return self.text(col).lower() < other.text(col).lower()
