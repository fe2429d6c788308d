"""Lists, rows and tables a run logged (`run.log_list`, `log_row`, `log_table`), shown as tables.

    list   one column per logged list (a single list: one column named after the metric)
    row    each `log_row` call is one row; the columns are every name used, in order of first use
    table  the latest `log_table` value, its columns as given
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from engine import entities as E
from studio.style import fmt_value, heading, muted, plural

MAX_VISIBLE_ROWS = 12
KIND_WORDS = {"list": "list", "row": "rows", "table": "table"}


def object_table(kind: str, objects: list[E.MetricObject]) -> tuple[list[str], list[list[Any]]]:
    """The columns and rows that show the objects of one key (all of one kind)."""
    if not objects:
        return [], []
    if kind == "list":
        cols = [o.value for o in objects]
        names = [objects[0].key] if len(cols) == 1 else [f"#{i + 1}" for i in range(len(cols))]
        depth = max(len(c) for c in cols)
        return names, [[c[i] if i < len(c) else None for c in cols] for i in range(depth)]
    if kind == "row":
        names: list[str] = []
        for o in objects:
            names += [c for c in o.value if c not in names]
        return names, [[o.value.get(c) for c in names] for o in objects]
    table = objects[-1].value  # a table is replaced, not extended, by the next log_table
    names = list(table)
    depth = max((len(v) for v in table.values()), default=0)
    return names, [[table[c][i] if i < len(table[c]) else None for c in names] for i in range(depth)]


class ObjectTableModel(QAbstractTableModel):
    def __init__(self, columns: list[str], rows: list[list[Any]]) -> None:
        super().__init__()
        self.columns = columns
        self.rows = rows

    def set_table(self, columns: list[str], rows: list[list[Any]]) -> None:
        self.beginResetModel()
        self.columns, self.rows = columns, rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return fmt_value(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return self.columns[section] if orientation == Qt.Orientation.Horizontal else str(section + 1)


class ObjectTable(QWidget):
    """One key: its name, what it is, and the table."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.title = heading(key, 1.05)
        self.caption = muted(QLabel())
        self.model = ObjectTableModel([], [])
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.view.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        lay.addWidget(self.title)
        lay.addWidget(self.caption)
        lay.addWidget(self.view)

    def set_objects(self, kind: str, objects: list[E.MetricObject]) -> None:
        columns, rows = object_table(kind, objects)
        self.model.set_table(columns, rows)
        self.view.resizeColumnsToContents()
        header = self.view.horizontalHeader()
        for c in range(len(columns)):
            self.view.setColumnWidth(c, min(360, max(90, self.view.columnWidth(c) + 16)))
        # As wide as its columns (a narrow list is not stretched across the page).
        width = header.length() + self.view.verticalHeader().sizeHint().width() + 2 * self.view.frameWidth() + 2
        self.view.setMaximumWidth(width + self.view.verticalScrollBar().sizeHint().width()
                                  if len(rows) > MAX_VISIBLE_ROWS else width)
        what = {"list": plural(len(objects), "logged list"), "row": plural(len(rows), "row"),
                "table": plural(len(rows), "row") + (f", the latest of {len(objects)} tables"
                                                      if len(objects) > 1 else "")}[kind]
        description = next((o.description for o in reversed(objects) if o.description), "")
        self.caption.setText(f"{what}" + (f" · {description}" if description else ""))
        # Tall enough for the rows (up to a dozen; more scroll inside the table).
        shown = max(1, min(len(rows), MAX_VISIBLE_ROWS))
        frame = 2 * self.view.frameWidth()
        self.view.setFixedHeight(self.view.horizontalHeader().sizeHint().height()
                                 + shown * self.view.verticalHeader().defaultSectionSize() + frame + 2)

    def cell_texts(self) -> list[list[str]]:
        return [[self.model.index(r, c).data() for c in range(self.model.columnCount())]
                for r in range(self.model.rowCount())]


class ObjectTables(QWidget):
    """Every list/row/table metric of a run, one table each, sorted by name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tables: dict[str, ObjectTable] = {}
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(18)

    def set_objects(self, key: str, kind: str, objects: list[E.MetricObject]) -> None:
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = ObjectTable(key)
            index = sorted(self.tables).index(key)
            self._lay.insertWidget(index, table)
        table.set_objects(kind, objects)

    def set_filter(self, text: str) -> int:
        """Show the tables whose name contains `text`; returns how many are shown."""
        text = text.strip().lower()
        shown = 0
        for key, table in self.tables.items():
            table.setVisible(text in key.lower())
            shown += text in key.lower()
        return shown
