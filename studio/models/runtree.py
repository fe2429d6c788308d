"""Sweeps and pipelines as collapsible parent rows of the runs table: where child rows sit.

The runs table stays a flat, lazily read table (a tree view would ask the model for an index of
every one of 100,000 rows on each layout). Without a search it lists only top-level runs, and an
expanded parent's children (its trials or steps, read when it is expanded) are shown right below
it. This class maps the table's rows ("display rows") to top-level rows of the store's order and
to children, knowing only the few expanded parents. No Qt here: the model signals the changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from engine import entities as E


class ChildRows:
    """The expanded parents and their children; `top_row(name)` says where a parent is now."""

    def __init__(self, top_row: Callable[[str], int | None]) -> None:
        self._top_row = top_row
        self.children: dict[str, list[E.Run]] = {}  # expanded parent -> its children, oldest first
        self._layout: list[tuple[int, str, int]] | None = None  # (top row, parent, children), by row
        self._starts: list[int] = []  # the display row of each expanded parent, same order

    def invalidate(self) -> None:
        """Top-level rows moved, or a parent was expanded or collapsed."""
        self._layout = None

    def clear(self) -> None:
        self.children.clear()
        self.invalidate()

    def _rows(self) -> list[tuple[int, str, int]]:
        if self._layout is None:
            rows = []
            for name, kids in self.children.items():
                row = self._top_row(name)
                if row is not None and kids:
                    rows.append((row, name, len(kids)))
            rows.sort()
            self._layout = rows
            starts, off = [], 0
            for row, _name, n in rows:
                starts.append(row + off)
                off += n
            self._starts = starts
        return self._layout

    def extra(self) -> int:
        """Child rows shown in all."""
        return sum(n for _r, _name, n in self._rows())

    def locate(self, drow: int) -> tuple[int, E.Run | None]:
        """(top-level row, None) for a parent-level row; (its parent's top row, the child) for a
        child row."""
        rows = self._rows()
        i = bisect_right(self._starts, drow) - 1
        if i < 0:
            return drow, None
        top, name, n = rows[i]
        start = self._starts[i]
        if drow == start:
            return top, None
        if drow <= start + n:
            return top, self.children[name][drow - start - 1]
        return drow - (start - top) - n, None  # after this parent's children

    def display_row(self, top: int) -> int:
        """The display row of top-level row `top`."""
        rows = self._rows()
        return top + sum(n for row, _name, n in rows if row < top)

    def child_row(self, name: str) -> int | None:
        """The display row of child run `name`, when its parent is expanded and on a loaded row."""
        for row, parent, _n in self._rows():
            kids = self.children[parent]
            for i, kid in enumerate(kids):
                if kid.name == name:
                    return self.display_row(row) + 1 + i
        return None

    def parent_of_child(self, name: str) -> str | None:
        return next((p for p, kids in self.children.items() if any(k.name == name for k in kids)), None)
