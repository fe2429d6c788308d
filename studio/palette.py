"""The command palette (Ctrl+K): type a few letters of any page, run or action and press Enter.

Entries are (title, detail, callback); a query matches an entry when its words appear in the
title and detail in that order (each may be a prefix: "run ex" finds "Runs" and "exp-a"),
and entries whose title starts with the query come first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

MAX_SHOWN = 200


@dataclass(frozen=True)
class Entry:
    title: str
    detail: str
    action: Callable[[], object]


def matches(query: str, entry: Entry) -> bool:
    text = f"{entry.title} {entry.detail}".casefold()
    at = 0
    for word in query.casefold().split():
        found = text.find(word, at)
        if found < 0:
            return False
        at = found + len(word)
    return True


def rank(query: str, entries: list[Entry]) -> list[Entry]:
    q = query.strip().casefold()
    hits = [e for e in entries if matches(q, e)]
    return sorted(
        hits, key=lambda e: (not e.title.casefold().startswith(q), not q or q not in e.title.casefold())
    )


class CommandPalette(QDialog):
    """A search box over `entries`; Enter (or a click) runs the chosen one and closes."""

    def __init__(self, entries: list[Entry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Go to…")
        self.entries = entries
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 10, 10, 10)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Type a page, a run or an action…")
        self.edit.installEventFilter(self)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        self.list.itemActivated.connect(lambda _item: self.run_current())
        lay.addWidget(self.edit)
        lay.addWidget(self.list, 1)
        self.edit.textChanged.connect(self._filter)
        self._filter("")
        self.resize(620, 420)

    def _filter(self, text: str) -> None:
        self.list.clear()
        for e in rank(text, self.entries)[:MAX_SHOWN]:
            item = QListWidgetItem(f"{e.title}    {e.detail}" if e.detail else e.title)
            item.setData(Qt.ItemDataRole.UserRole, e)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def shown(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole).title for i in range(self.list.count())]

    def run_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        entry: Entry = item.data(Qt.ItemDataRole.UserRole)
        self.accept()
        entry.action()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.run_current()
            return
        super().keyPressEvent(event)

    def eventFilter(self, obj: object, event: object) -> bool:
        # Up and Down in the search box move through the list.
        if obj is self.edit and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1}.get(Qt.Key(event.key()))
            if step is not None and self.list.count():
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
                return True
        return super().eventFilter(obj, event)  # type: ignore[arg-type]
