"""The table of registered models (every version), with their size on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine import entities as E
from studio.models.rows import ROW_ROLE, SORT_ROLE, RowTableModel
from studio.style import fmt_size, fmt_time, fmt_time_full

__all__ = ["COLUMNS", "MODEL_ROLE", "SORT_ROLE", "ModelTableModel", "model_sizes"]

MODEL_ROLE = ROW_ROLE
COLUMNS = ("Model", "Version", "Run", "Created", "File", "Size", "Tags", "Description")
COL_NAME, COL_VERSION, COL_RUN, COL_CREATED, COL_FILE, COL_SIZE, COL_TAGS, COL_DESCRIPTION = range(len(COLUMNS))


def model_sizes(engine: Any, models: list[E.Model]) -> dict[tuple[str, int], int | None]:
    """(name, version) -> bytes on disk (None: the registered copy is gone). Off the GUI thread."""
    return {(m.name, m.version): engine.size_on_disk(m.path) for m in models}


def fmt_tags(tags: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in tags.items())


class ModelTableModel(RowTableModel[E.Model]):
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = frozenset({COL_VERSION, COL_SIZE})

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._sizes: dict[tuple[str, int], int | None] = {}

    def set_models(self, models: list[E.Model]) -> None:
        self.set_rows(models)

    def models(self) -> list[E.Model]:
        return self.rows()

    def set_sizes(self, sizes: dict[tuple[str, int], int | None]) -> None:
        self._sizes = dict(sizes)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, COL_SIZE), self.index(self.rowCount() - 1, COL_SIZE))

    def size(self, m: E.Model) -> int | None:
        return self._sizes.get((m.name, m.version))

    def size_known(self, m: E.Model) -> bool:
        return (m.name, m.version) in self._sizes

    def latest_version(self, name: str) -> int:
        return max((m.version for m in self.rows() if m.name == name), default=0)

    def key(self, row: E.Model) -> Any:
        return (row.name, row.version)

    def display(self, m: E.Model, col: int) -> str:
        if col == COL_NAME:
            return m.name
        if col == COL_VERSION:
            return str(m.version)
        if col == COL_RUN:
            return m.run_name or ""
        if col == COL_CREATED:
            return fmt_time(m.created_at)
        if col == COL_FILE:
            return Path(m.path).name
        if col == COL_SIZE:
            key = (m.name, m.version)
            if key not in self._sizes:
                return ""
            size = self._sizes[key]
            return "missing" if size is None else fmt_size(size)
        if col == COL_TAGS:
            return fmt_tags(m.tags)
        return m.description

    def sort_key(self, m: E.Model, col: int) -> Any:
        if col == COL_VERSION:
            return m.version
        if col == COL_CREATED:
            return m.created_at
        if col == COL_SIZE:
            return self.size(m) or 0
        return self.display(m, col).lower()

    def tooltip(self, m: E.Model, col: int) -> str | None:
        if col == COL_FILE:
            return m.path
        if col == COL_CREATED:
            return fmt_time_full(m.created_at)
        if col == COL_RUN and m.run_name:
            return "double-click to open the run that produced this model"
        return None
