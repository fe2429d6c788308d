"""Small building blocks the pages share: a page header, tables, a filter proxy, empty states."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.style import heading, muted

PAGE_MARGINS = (20, 16, 20, 12)


class FilterProxy(QSortFilterProxyModel):
    """Case-insensitive substring filter over every column; sorts on the model's sort role."""

    def __init__(self, sort_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(sort_role)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)


def make_table(proxy: QSortFilterProxyModel, widths: Sequence[str], stretch: int) -> QTableView:
    """A read-only, row-selecting, sortable table. `widths` holds a sample text per column that
    sets its starting width (measuring every row would be slow with thousands of runs)."""
    view = QTableView()
    view.setModel(proxy)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setSortingEnabled(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    view.verticalHeader().setVisible(False)
    view.setIconSize(QSize(10, 10))
    fm = QFontMetrics(view.font())
    view.verticalHeader().setDefaultSectionSize(fm.height() + 12)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setMinimumSectionSize(48)
    for col, sample in enumerate(widths):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        view.setColumnWidth(col, fm.horizontalAdvance(sample) + 36)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view


def scroll_area(*, horizontal: bool = False) -> QScrollArea:
    """A frameless scroll area that resizes its widget and scrolls one way (default: down)."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    off = Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    if horizontal:
        area.setVerticalScrollBarPolicy(off)
    else:
        area.setHorizontalScrollBarPolicy(off)
    return area


class EmptyState(QWidget):
    """A centred title and explanation shown instead of an empty table."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        self.title = heading(title, 1.35)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = muted(QLabel(text))
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        lay.addWidget(self.title)
        lay.addSpacing(6)
        lay.addWidget(self.text)
        lay.addStretch(3)


class Page(QWidget):
    """A browser page: title, a row of controls, then a table or its empty state."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(*PAGE_MARGINS)
        self._lay.setSpacing(10)
        top = QHBoxLayout()
        self.title = heading(title, 1.6)
        top.addWidget(self.title)
        top.addStretch(1)
        self.count_label = muted(QLabel())
        top.addWidget(self.count_label)
        self._lay.addLayout(top)
        self.controls = QHBoxLayout()
        self.controls.setSpacing(8)
        self._lay.addLayout(self.controls)
        self.stack = QStackedWidget()
        self._lay.addWidget(self.stack, 1)

    def add_filter(self, placeholder: str, proxy: QSortFilterProxyModel) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        edit.setMaximumWidth(420)
        edit.textChanged.connect(proxy.setFilterFixedString)
        self.controls.addWidget(edit, 1)
        self.controls.addStretch(1)
        return edit

    def set_body(self, table: QWidget, empty: EmptyState) -> None:
        self.stack.addWidget(table)
        self.stack.addWidget(empty)
        self.stack.setCurrentWidget(empty)

    def show_table(self, has_rows: bool) -> None:
        self.stack.setCurrentIndex(0 if has_rows else 1)
