"""A read-only table model over a list of plain rows: subclasses say what each cell shows.

The browsers of environments, compute targets, data assets and models all list a few hundred rows
at most, replaced as a whole when a background load finishes; this base keeps their models short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

T = TypeVar("T")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

_Index = QModelIndex | QPersistentModelIndex


class RowTableModel(QAbstractTableModel, Generic[T]):
    """`COLUMNS` names the columns; `display(row, col)` the text; `sort_key(row, col)` what sorting
    compares (default: the lower-cased text); `decoration` / `tooltip` are optional; `RIGHT_ALIGNED`
    holds the numeric columns. `key(row)` identifies a row across reloads (keeps the selection)."""

    COLUMNS: tuple[str, ...] = ()
    RIGHT_ALIGNED: frozenset[int] = frozenset()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []

    # ---------------------------------------------------------------- for subclasses
    def display(self, row: T, col: int) -> str:
        raise NotImplementedError

    def sort_key(self, row: T, col: int) -> Any:
        return self.display(row, col).lower()

    def decoration(self, row: T, col: int) -> Any:
        return None

    def tooltip(self, row: T, col: int) -> str | None:
        return None

    def key(self, row: T) -> Any:
        return id(row)

    # ---------------------------------------------------------------- data
    def set_rows(self, rows: Sequence[T]) -> None:
        rows = list(rows)
        if [self.key(r) for r in rows] == [self.key(r) for r in self._rows]:
            self._rows = rows  # same rows, new values: repaint without losing the selection
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(self.COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rows(self) -> list[T]:
        return list(self._rows)

    def row_at(self, row: int) -> T:
        return self._rows[row]

    def find(self, predicate: Callable[[T], bool]) -> int:
        return next((i for i, r in enumerate(self._rows) if predicate(r)), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section in self.RIGHT_ALIGNED:
            return RIGHT
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, col)
        if role == SORT_ROLE:
            return self.sort_key(row, col)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DecorationRole:
            return self.decoration(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self.RIGHT_ALIGNED:
            return RIGHT
        return None
