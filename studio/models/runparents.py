"""The runs table's parent rows: expanding a sweep, pipeline or any run with child runs shows its
children right below it (read in the background), collapsing hides them, and a child's change
reaches its row. A mixin of `RunTableModel`, whose state it shares: `_tree` (ChildRows: where the
rows sit), `_row_of`, `_child_counts`, `_known`, `_shown` and `_expanding`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex

from engine import entities as E
from studio.models.runcells import COL_NAME
from studio.tasks import BackgroundOp


class ParentRowsMixin:
    _tree: Any
    _query: Any
    _engine: Any
    _row_of: dict[str, int]
    _child_counts: dict[str, int]
    _known: dict[str, E.Run]
    _shown: int
    _expanding: set[str]
    beginInsertRows: Any
    endInsertRows: Any
    beginRemoveRows: Any
    endRemoveRows: Any
    dataChanged: Any
    index: Any
    columnCount: Any

    @property
    def grouped(self) -> bool:
        """Child runs are listed under their parents (no search is applied)."""
        return self._query.grouped

    def has_children(self, name: str) -> bool:
        return bool(self._child_counts.get(name)) or bool(self._tree.children.get(name))

    def expanded(self, name: str) -> bool:
        return name in self._tree.children

    def children_shown(self, name: str) -> list[E.Run]:
        return list(self._tree.children.get(name, []))

    def is_busy_expanding(self) -> bool:
        return bool(self._expanding)

    def expand(self, name: str) -> None:
        """Show the children of top-level run `name` below it (read in the background)."""
        if name in self._tree.children or name in self._expanding or name not in self._row_of:
            return
        self._expanding.add(name)
        engine = self._engine

        def done(kids: list[E.Run]) -> None:
            self._expanding.discard(name)
            top = self._row_of.get(name)
            if top is None or not kids or name in self._tree.children:
                return
            kids = [self._known.get(k.name, k) for k in kids]
            drow = self._tree.display_row(top)
            self.beginInsertRows(QModelIndex(), drow + 1, drow + len(kids))
            self._tree.children[name] = kids
            self._tree.invalidate()
            self._shown += len(kids)
            self.endInsertRows()
            self.dataChanged.emit(self.index(drow, COL_NAME), self.index(drow, COL_NAME))

        def failed(_exc: BaseException) -> None:
            self._expanding.discard(name)  # (a run removed meanwhile): nothing to show

        BackgroundOp(self, lambda: engine.children(name)).success(done).failure(failed).run()  # type: ignore[arg-type]

    def collapse(self, name: str) -> None:
        kids = self._tree.children.get(name)
        top = self._row_of.get(name)
        if kids is None or top is None:
            self._tree.children.pop(name, None)
            return
        drow = self._tree.display_row(top)
        self.beginRemoveRows(QModelIndex(), drow + 1, drow + len(kids))
        del self._tree.children[name]
        self._tree.invalidate()
        self._shown -= len(kids)
        self.endRemoveRows()
        self.dataChanged.emit(self.index(drow, COL_NAME), self.index(drow, COL_NAME))

    def _upsert_child(self, run: E.Run) -> None:
        """A child of an expanded parent changed, or is new (a sweep's next trial)."""
        assert run.parent_name is not None
        kids = self._tree.children[run.parent_name]
        top = self._row_of.get(run.parent_name)
        at = next((i for i, k in enumerate(kids) if k.name == run.name), None)
        if top is None:
            return
        start = self._tree.display_row(top) + 1
        if at is not None:
            kids[at] = run
            self.dataChanged.emit(self.index(start + at, 0), self.index(start + at, self.columnCount() - 1))
            return
        self.beginInsertRows(QModelIndex(), start + len(kids), start + len(kids))
        kids.append(run)
        self._tree.invalidate()
        self._shown += 1
        self._child_counts[run.parent_name] = max(self._child_counts.get(run.parent_name, 0), len(kids))
        self.endInsertRows()
