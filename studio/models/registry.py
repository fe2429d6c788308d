"""The table of registered models (every version)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from engine import entities as E
from studio.style import fmt_time, fmt_time_full

COLUMNS = ("Model", "Version", "Run", "Created", "File", "Description")
COL_NAME, COL_VERSION, COL_RUN, COL_CREATED, COL_FILE, COL_DESCRIPTION = range(len(COLUMNS))
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
MODEL_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


class ModelTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._models: list[E.Model] = []

    def set_models(self, models: list[E.Model]) -> None:
        self.beginResetModel()
        self._models = list(models)
        self.endResetModel()

    def models(self) -> list[E.Model]:
        return list(self._models)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._models)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section == COL_VERSION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        m = self._models[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                COL_NAME: m.name,
                COL_VERSION: str(m.version),
                COL_RUN: m.run_name or "",
                COL_CREATED: fmt_time(m.created_at),
                COL_FILE: Path(m.path).name,
                COL_DESCRIPTION: m.description,
            }.get(col, "")
        if role == SORT_ROLE:
            if col == COL_VERSION:
                return m.version
            if col == COL_CREATED:
                return m.created_at
            return str(self.data(index)).lower()
        if role == MODEL_ROLE:
            return m
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_VERSION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_FILE:
                return m.path
            if col == COL_CREATED:
                return fmt_time_full(m.created_at)
        return None
