"""The table of experiments, with run counts and each one's latest run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from engine import entities as E
from studio.style import fmt_time, fmt_time_full, status_icon, status_label

COLUMNS = ("Experiment", "Runs", "Active", "Latest run", "Latest status", "Created")
COL_NAME, COL_RUNS, COL_ACTIVE, COL_LATEST, COL_STATUS, COL_CREATED = range(len(COLUMNS))
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ExperimentRow:
    experiment: E.Experiment
    run_count: int
    active: int
    latest: E.Run | None


def summarise(experiments: list[E.Experiment], runs: list[E.Run]) -> list[ExperimentRow]:
    """Join the store's experiments with the runs the studio already holds."""
    by_exp: dict[str, list[E.Run]] = {}
    for run in runs:
        by_exp.setdefault(run.experiment_name, []).append(run)
    rows = []
    for exp in experiments:
        mine = by_exp.get(exp.name, [])
        latest = max(mine, key=lambda r: r.created_at, default=None)
        rows.append(ExperimentRow(exp, max(exp.run_count, len(mine)),
                                  sum(1 for r in mine if not r.is_terminal), latest))
    return rows


class ExperimentTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ExperimentRow] = []

    def set_rows(self, rows: list[ExperimentRow]) -> None:
        if [r.experiment.name for r in rows] == [r.experiment.name for r in self._rows]:
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rows(self) -> list[ExperimentRow]:
        return list(self._rows)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section in (COL_RUNS, COL_ACTIVE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        latest = row.latest
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return row.experiment.name
            if col == COL_RUNS:
                return str(row.run_count)
            if col == COL_ACTIVE:
                return str(row.active) if row.active else ""
            if col == COL_LATEST:
                return latest.display_name if latest else ""
            if col == COL_STATUS:
                return status_label(latest.status) if latest else ""
            if col == COL_CREATED:
                return fmt_time(row.experiment.created_at)
        if role == SORT_ROLE:
            if col == COL_NAME:
                return row.experiment.name.lower()
            if col == COL_RUNS:
                return row.run_count
            if col == COL_ACTIVE:
                return row.active
            if col == COL_LATEST:
                return latest.created_at if latest else 0.0
            if col == COL_STATUS:
                return latest.status if latest else ""
            return row.experiment.created_at
        if role == NAME_ROLE:
            return row.experiment.name
        if role == Qt.ItemDataRole.DecorationRole and col == COL_STATUS and latest:
            return status_icon(latest.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_RUNS, COL_ACTIVE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_CREATED:
            return fmt_time_full(row.experiment.created_at)
        return None
