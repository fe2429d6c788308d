"""The Outputs tab: the files the script left in ./outputs (collected when the run ends)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.rundetail.fetch import OutputFile
from studio.style import fmt_size, fmt_time, muted, plural
from studio.widgets import EmptyState


class OutputsTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root: Path | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        bar = QHBoxLayout()
        self.summary = muted(QLabel())
        bar.addWidget(self.summary)
        bar.addStretch(1)
        self.open_button = QPushButton("Open outputs folder")
        self.open_button.clicked.connect(self._open_folder)
        bar.addWidget(self.open_button)
        lay.addLayout(bar)
        self.stack = QStackedWidget()
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["File", "Size", "Modified"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemActivated.connect(self._open_item)
        self.empty = EmptyState("No outputs yet", "Files the script writes to ./outputs are collected "
                                "here when the run ends.")
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty)
        self.stack.setCurrentWidget(self.empty)
        lay.addWidget(self.stack, 1)
        self.open_button.setEnabled(False)

    def files(self) -> list[str]:
        return [self.tree.topLevelItem(i).text(0) for i in range(self.tree.topLevelItemCount())]

    def set_files(self, root: Path, files: list[OutputFile], finished: bool) -> None:
        self.root = root
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for f in files:
            item = QTreeWidgetItem([f.path, fmt_size(f.size), fmt_time(f.mtime)])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setData(0, Qt.ItemDataRole.UserRole, f.path)
            self.tree.addTopLevelItem(item)
        self.tree.setSortingEnabled(True)
        self.stack.setCurrentWidget(self.tree if files else self.empty)
        self.open_button.setEnabled(bool(files))
        total = sum(f.size for f in files)
        self.summary.setText(f"{plural(len(files), 'file')}, {fmt_size(total)} in outputs/" if files else "")
        if finished and not files:
            self.empty.title.setText("No outputs")
            self.empty.text.setText("The script wrote nothing to ./outputs.")

    def _open_folder(self) -> None:
        if self.root is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.root)))

    def _open_item(self, item: QTreeWidgetItem, _col: int) -> None:
        if self.root is not None:
            rel = item.data(0, Qt.ItemDataRole.UserRole)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.root / rel)))
