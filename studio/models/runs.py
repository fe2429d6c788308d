"""The table of runs, kept up to date from the bridge's `runsChanged`."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from engine import entities as E
from studio.style import fmt_duration, fmt_time, fmt_time_full, run_duration, status_icon, status_label

COLUMNS = ("Name", "Status", "Experiment", "Compute", "Started", "Duration")
COL_NAME, COL_STATUS, COL_EXPERIMENT, COL_COMPUTE, COL_STARTED, COL_DURATION = range(len(COLUMNS))
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


class RunTableModel(QAbstractTableModel):
    """Rows of `engine.entities.Run`, in arrival order (sorting is the proxy's job)."""

    activeCountChanged = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runs: list[E.Run] = []
        self._row: dict[str, int] = {}
        self._active = 0
        # Durations of active runs grow: repaint that column once a second while any is active.
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    # ---------------------------------------------------------------- updates
    def upsert(self, runs: list[E.Run]) -> None:
        new = []
        for run in runs:
            row = self._row.get(run.name)
            if row is None:
                new.append(run)
                continue
            self._runs[row] = run
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        if new:
            first = len(self._runs)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for i, run in enumerate(new):
                self._row[run.name] = first + i
                self._runs.append(run)
            self.endInsertRows()
        self._update_active()

    def _update_active(self) -> None:
        active = sum(1 for r in self._runs if not r.is_terminal)
        if active and not self._ticker.isActive():
            self._ticker.start()
        elif not active:
            self._ticker.stop()
        if active != self._active:
            self._active = active
            self.activeCountChanged.emit(active)

    def _tick(self) -> None:
        for row, run in enumerate(self._runs):
            if not run.is_terminal and run.start_time is not None:
                ix = self.index(row, COL_DURATION)
                self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.DisplayRole])

    # ---------------------------------------------------------------- queries
    @property
    def active_count(self) -> int:
        return self._active

    def runs(self) -> list[E.Run]:
        return list(self._runs)

    def run_at(self, row: int) -> E.Run:
        return self._runs[row]

    def get(self, name: str) -> E.Run | None:
        row = self._row.get(name)
        return None if row is None else self._runs[row]

    def row_of(self, name: str) -> int | None:
        return self._row.get(name)

    # ---------------------------------------------------------------- Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self._runs[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, col)
        if role == SORT_ROLE:
            return self._sort_key(run, col)
        if role == RUN_ROLE:
            return run
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATUS:
            return status_icon(run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_NAME:
                return run.name if run.display_name == run.name else f"{run.display_name}\n{run.name}"
            if col == COL_STATUS and run.error:
                return run.error
            if col == COL_STARTED:
                return fmt_time_full(run.start_time or run.created_at)
        return None

    @staticmethod
    def _display(run: E.Run, col: int) -> str:
        if col == COL_NAME:
            return run.display_name or run.name
        if col == COL_STATUS:
            return status_label(run.status)
        if col == COL_EXPERIMENT:
            return run.experiment_name
        if col == COL_COMPUTE:
            return run.compute
        if col == COL_STARTED:
            return fmt_time(run.start_time) if run.start_time else ""
        if col == COL_DURATION:
            return fmt_duration(run_duration(run.start_time, run.end_time))
        return ""

    @staticmethod
    def _sort_key(run: E.Run, col: int) -> Any:
        if col in (COL_STARTED,):
            return run.start_time or run.created_at
        if col == COL_DURATION:
            return run_duration(run.start_time, run.end_time) or 0.0
        if col == COL_STATUS:
            return E.RUN_STATUSES.index(run.status) if run.status in E.RUN_STATUSES else -1
        if col == COL_NAME:
            return (run.display_name or run.name).lower()
        return RunTableModel._display(run, col).lower()

