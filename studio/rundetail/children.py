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
from dataclasses import dataclass
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
from studio.rundetail.sweepchart import SweepChart
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
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState

log = logging.getLogger(__name__)

COLUMNS = ("Name", "Status", "Primary metric", "Duration", "Created")
NAME_ROLE = Qt.ItemDataRole.UserRole
EMPTY = ("A run gets children when its script submits them with run.submit_child(config), "
         "or when it is a sweep. They are listed here as they start.")
EMPTY_SWEEP = "The sweep submits its trials as child runs; they are listed here as they start."
BEST_BADGE = "★ Best"


@dataclass(frozen=True)
class ChildRow:
    run: E.Run
    metric: str  # "key = value" of its primary metric, or ''
    value: float | None = None  # a sweep trial's last value of the sweep's primary metric


@dataclass(frozen=True)
class SweepInfo:
    """The sweep run whose trials the tab lists (Qt-free; the Overview uses it too)."""

    metric: str
    goal: str  # minimize | maximize
    params: tuple[str, ...]  # the hyperparameter columns: search-space order, then any other
    kinds: dict[str, str]  # parameter -> its distribution ("choice", "loguniform"...)
    choices: dict[str, tuple[Any, ...]]  # choice parameters -> their values, in the file's order
    bounds: dict[str, tuple[float, float]]  # bounded parameters -> the values they can take (lowest, highest)
    best: str | None  # the best trial: the sweep's record, or while it runs the best completed one
    running: bool = False  # the sweep has not ended: its best is the best so far


@dataclass(frozen=True)
class Children:
    rows: list[ChildRow]
    sweep: SweepInfo | None  # None: not a sweep run


def is_sweep(run: E.Run) -> bool:
    return run.properties.get("run_type") == "sweep"


def stopped_early(run: E.Run) -> bool:
    """A trial the sweep's early termination policy cancelled (its error says why)."""
    return run.status == "Canceled" and (run.error or "").startswith("early termination")


def fmt_param(value: Any) -> str:
    """A hyperparameter as a table cell: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt_param(v)}" for k, v in params.items())


def _number(value: Any) -> float | None:
    """A finite float of a numeric value (None for text, bools, missing, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def primary_metric(run: E.Run, summaries: list[E.MetricSummary]) -> str:
    """The child's `primary_metric` (a property sweeps set) or else its first scalar metric."""
    scalars = {s.key: s for s in summaries if s.kind == "scalar"}
    key = run.properties.get("primary_metric")
    if key not in scalars:
        key = min(scalars) if scalars else None
    return f"{key} = {fmt_value(scalars[key].last_value)}" if key else ""


def trial_counts(runs: list[E.Run]) -> str:
    """'6 completed, 1 running, 2 stopped early': the trials by what became of them."""
    counts: dict[str, int] = {}
    for run in runs:
        if stopped_early(run):
            what = "stopped early"
        elif run.status in ("Running", "Finalizing"):
            what = "running"
        elif run.status in ("Preparing", "Starting"):
            what = "starting"
        elif not run.is_terminal:
            what = "queued"
        else:
            what = status_label(run.status).lower()
        counts[what] = counts.get(what, 0) + 1
    order = ("completed", "running", "starting", "queued", "stopped early", "canceled", "failed")
    keys = sorted(counts, key=lambda k: order.index(k) if k in order else len(order))
    return ", ".join(f"{counts[k]:,} {k}" for k in keys)


def best_trial(sweep: E.Run, rows: list[ChildRow], goal: str) -> str | None:
    """The sweep's recorded best trial, or (while it runs) its best completed trial so far."""
    recorded = sweep.properties.get("best_child_run_id")
    if recorded and any(r.run.name == recorded for r in rows):
        return str(recorded)
    done = [r for r in rows if r.run.status == "Completed" and r.value is not None and not math.isnan(r.value)]
    if not done:
        return None
    pick = min if goal == "minimize" else max
    return pick(done, key=lambda r: r.value if r.value is not None else math.nan).run.name


def sweep_info(sweep: E.Run, rows: list[ChildRow]) -> SweepInfo:
    settings = sweep.properties.get("sweep") or {}
    space = settings.get("search_space") or {}
    metric = str(sweep.properties.get("primary_metric") or settings.get("primary_metric") or "")
    goal = str(sweep.properties.get("goal") or settings.get("goal") or "minimize")
    used = {k for r in rows for k in r.run.params}
    params = [k for k in space if k in used] + sorted(used - set(space))
    if not rows:  # nothing ran yet: the search space says what the columns will be
        params = list(space)
    kinds = {k: str(space[k].get("type", "")) for k in params if isinstance(space.get(k), dict)}
    choices = {k: tuple(space[k].get("values") or ()) for k in params if kinds.get(k) == "choice"}
    bounds = {k: b for k in params if (b := _bounds(space[k] if isinstance(space.get(k), dict) else {})) is not None}
    return SweepInfo(metric, goal, tuple(params), kinds, choices, bounds, best_trial(sweep, rows, goal),
                     not sweep.is_terminal)


def _bounds(dist: dict[str, Any]) -> tuple[float, float] | None:
    """The range a bounded distribution draws from (loguniform bounds are exponents of e)."""
    kind = dist.get("type")
    try:
        if kind in ("uniform", "quniform"):
            return float(dist["min_value"]), float(dist["max_value"])
        if kind in ("loguniform", "qloguniform"):
            return math.exp(float(dist["min_value"])), math.exp(float(dist["max_value"]))
        if kind == "randint":
            return 0.0, float(dist["upper"]) - 1
    except (KeyError, TypeError, ValueError, OverflowError):
        pass
    return None


def sweep_summary(rows: list[ChildRow], info: SweepInfo) -> str:
    """'8 trials · 6 completed, 2 stopped early · best quiet_dingo_6: val_loss 0.1167 (lr=0.001129)'."""
    if not rows:
        return "No trials yet"
    text = f"{plural(len(rows), 'trial')} · {trial_counts([r.run for r in rows])}"
    best = next((r for r in rows if r.run.name == info.best), None)
    if best is not None:
        text += f" · best {'so far ' if info.running else ''}{best.run.name}"
        if best.value is not None:
            text += f": {info.metric} {best.value:.4g}"
        if best.run.params:
            text += f" ({fmt_params(best.run.params)})"
    return text


def load_children(engine: Any, name: str) -> Children:
    parent = engine.get_run(name)
    sweep = is_sweep(parent)
    metric = parent.properties.get("primary_metric") if sweep else None
    rows = []
    for child in engine.children(name):
        summaries = engine.store.metric_summaries(child.name)
        value = None
        if sweep:
            last = next((s.last_value for s in summaries if s.key == metric and s.kind == "scalar"), None)
            value = float(last) if isinstance(last, (int, float)) else None
        rows.append(ChildRow(child, primary_metric(child, summaries), value))
    return Children(rows, sweep_info(parent, rows) if sweep else None)


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
        self._busy = False
        self._stale = True

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
        # A sweep run records its best trial when it ends: that changes the marked row.
        if any(r.parent_name == self.name or r.name in known or (self.sweep is not None and r.name == self.name)
               for r in runs):
            self._stale = True
            if self.isVisible():
                self.refresh()
            elif self.rows is not None and any(r.parent_name == self.name and r.name not in known for r in runs):
                self.refresh()  # a new child: keep the tab's count right while it is hidden

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
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
        self._busy = False
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
                numeric = all(v is None or _number(v) is not None or isinstance(v, float) for v in values)
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
        if self._stale and self.isVisible():
            self.refresh()

    def _item(self, row: ChildRow) -> QTreeWidgetItem:
        run = row.run
        item = _SortableItem([
            run.display_name if run.display_name == run.name else f"{run.display_name}  ({run.name})",
            status_label(run.status),
            row.metric,
            fmt_duration(run_duration(run.start_time, run.end_time)),
            fmt_time(run.created_at),
        ])
        self._common(item, run)
        return item

    def _sweep_item(self, row: ChildRow, sweep: SweepInfo) -> QTreeWidgetItem:
        run = row.run
        best = run.name == sweep.best
        name = run.display_name if run.display_name == run.name else f"{run.display_name}  ({run.name})"
        status = run_status_label(run)
        value = "" if row.value is None else f"{row.value:.4g}"
        cells = [f"{name}   {BEST_BADGE}" if best else name, status,
                 *(fmt_param(run.params.get(p)) for p in sweep.params), value]
        item = _SortableItem([*cells, fmt_duration(run_duration(run.start_time, run.end_time)),
                              fmt_time(run.created_at)])
        self._common(item, run)
        if run.error:  # a stopped trial: the policy's reason
            item.setToolTip(1, run.error)
        for col, p in enumerate(sweep.params, start=2):
            v = run.params.get(p)
            if p in run.params:  # the full value (the cell shows 4 significant digits)
                item.setToolTip(col, f"{p} = {v!r}" if isinstance(v, float) else f"{p} = {v}")
            item.setData(col, _SortableItem.KEY_ROLE, _number(v))
            item.setData(col, _SortableItem.MISSING_ROLE, p not in run.params or v is None)
            side = Qt.AlignmentFlag.AlignRight if _number(v) is not None else Qt.AlignmentFlag.AlignLeft
            item.setTextAlignment(col, side | Qt.AlignmentFlag.AlignVCenter)
        col = 2 + len(sweep.params)
        finite = row.value is not None and not math.isnan(row.value)
        item.setData(col, _SortableItem.KEY_ROLE, row.value if finite else None)
        item.setData(col, _SortableItem.MISSING_ROLE, not finite)
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
        item.setData(last - 1, _SortableItem.KEY_ROLE, run_duration(run.start_time, run.end_time) or 0.0)
        item.setData(last, _SortableItem.KEY_ROLE, run.created_at)


class _SortableItem(QTreeWidgetItem):
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
