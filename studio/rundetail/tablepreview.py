"""Previews of structured outputs: a CSV/TSV file as a table (its first rows, the header as
column titles), a JSON file pretty-printed. Parsing is plain Python on the preview text the
Outputs tab already read off the GUI thread (at most its first 512 KiB)."""

from __future__ import annotations

import csv
import io
import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

MAX_ROWS = 1000  # rows shown; the rest is one download away
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


def parse_table(text: str, delimiter: str, *, truncated: bool = False) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of delimited text; a cut-off last line (a truncated preview) is left out."""
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[:-1]
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    if not rows:
        return [], []
    header, body = rows[0], rows[1 : MAX_ROWS + 1]
    width = max([len(header), *(len(r) for r in body)])
    header = header + [f"column {i + 1}" for i in range(len(header), width)]
    return header, [r + [""] * (width - len(r)) for r in body]


def pretty_json(text: str) -> str | None:
    """The JSON text indented, or None when it does not parse (shown as it is then)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return None


class TablePreview(QTableView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = QStandardItemModel(self)
        self.setModel(self.model_)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )

    def set_table(self, header: list[str], rows: list[list[str]]) -> None:
        m = self.model_
        m.clear()
        m.setHorizontalHeaderLabels(header)
        for row in rows:
            m.appendRow([QStandardItem(v) for v in row])
        for c in range(len(header)):
            self.setColumnWidth(c, min(260, max(70, self.sizeHintForColumn(c) + 16)))

    def cells(self) -> list[list[str]]:
        """The header, then each row, as shown."""
        m = self.model_
        head = [m.headerData(c, Qt.Orientation.Horizontal) for c in range(m.columnCount())]
        return [head, *([m.item(r, c).text() for c in range(m.columnCount())] for r in range(m.rowCount()))]
