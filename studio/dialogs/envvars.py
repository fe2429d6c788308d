"""An editor for a run's environment variables: NAME / value rows, added and removed by the user.
The rows are checked by the engine (`engine.projects.check_environment_variables`)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

VISIBLE_ROWS = 3


class EnvVarsEditor(QWidget):
    """Two-column table (Name, Value) with Add and Remove buttons; `changed` on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Name", "Value"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 170)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        self.table.setToolTip("Set for the script, e.g. DATA_DIR = /data/mnist")
        row_h = self.table.verticalHeader().defaultSectionSize()
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + VISIBLE_ROWS * row_h + 4)
        lay.addWidget(self.table, 1)

        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a variable")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected variables")
        self.remove_button.setEnabled(False)
        for b in (self.add_button, self.remove_button):
            b.setAutoDefault(False)  # Enter in the dialog submits; it never adds a row
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)

        self.add_button.clicked.connect(lambda: self.add_row())  # noqa: PLW0108 - not add_row(checked)
        self.remove_button.clicked.connect(self.remove_selected)
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.table.itemSelectionChanged.connect(
            lambda: self.remove_button.setEnabled(bool(self.table.selectionModel().selectedRows())))

    def add_row(self, name: str = "", value: str = "", *, edit: bool = True) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        self.table.setItem(row, 1, QTableWidgetItem(value))
        if edit and not name:
            self.table.setCurrentCell(row, 0)
            self.table.editItem(self.table.item(row, 0))
        self.changed.emit()
        return row

    def remove_selected(self) -> None:
        for index in sorted((i.row() for i in self.table.selectionModel().selectedRows()), reverse=True):
            self.table.removeRow(index)
        self.changed.emit()

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) of every row, as typed."""
        out = []
        for row in range(self.table.rowCount()):
            name, value = self.table.item(row, 0), self.table.item(row, 1)
            out.append((name.text() if name else "", value.text() if value else ""))
        return out

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        self.table.setRowCount(0)
        for name, value in rows:
            self.add_row(name, value, edit=False)
