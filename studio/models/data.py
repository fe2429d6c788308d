"""The table of registered data assets, with whether each still exists on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import entities as E
from studio.models.rows import RowTableModel
from studio.style import fmt_size, fmt_time, status_icon

KIND_LABELS = {"uri_file": "file", "uri_folder": "folder"}


@dataclass(frozen=True)
class DataRow:
    asset: E.DataAsset
    exists: bool | None  # None: a URL (not checked)
    size: int | None
    consumed_by: tuple[str, ...] = ()  # the runs that used this version as an input

    @property
    def produced_by(self) -> str | None:
        return self.asset.run_name

    @property
    def is_url(self) -> bool:
        return self.asset.path.startswith(("http://", "https://"))


def load_data_assets(engine: Any) -> list[DataRow]:
    """Every data asset, checked on disk: call off the GUI thread."""
    rows = []
    for asset in engine.list_data_assets():
        consumers = tuple(sorted({u.run_name for u in engine.asset_lineage("data", asset.name, asset.version)
                                  if u.direction == "input"}))
        if asset.path.startswith(("http://", "https://")):
            rows.append(DataRow(asset, None, None, consumers))
            continue
        size = asset.size if asset.copied and asset.size is not None else engine.size_on_disk(asset.path)
        rows.append(DataRow(asset, Path(asset.path).exists(), size, consumers))
    return rows


COLUMNS = ("Data asset", "Version", "Kind", "Path", "On disk", "Size", "Created", "Description")
COL_NAME, COL_VERSION, COL_KIND, COL_PATH, COL_EXISTS, COL_SIZE, COL_CREATED, COL_DESCRIPTION = range(len(COLUMNS))


class DataTableModel(RowTableModel[DataRow]):
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = frozenset({COL_VERSION, COL_SIZE})

    def key(self, row: DataRow) -> Any:
        return (row.asset.name, row.asset.version)

    def display(self, row: DataRow, col: int) -> str:
        a = row.asset
        if col == COL_NAME:
            return a.name
        if col == COL_VERSION:
            return str(a.version)
        if col == COL_KIND:
            return "URL" if row.is_url else KIND_LABELS.get(a.kind, a.kind)
        if col == COL_PATH:
            return a.path
        if col == COL_EXISTS:
            return "URL" if row.exists is None else ("yes" if row.exists else "missing")
        if col == COL_SIZE:
            return "" if row.size is None else fmt_size(row.size)
        if col == COL_CREATED:
            return fmt_time(a.created_at)
        return a.description

    def sort_key(self, row: DataRow, col: int) -> Any:
        if col == COL_VERSION:
            return row.asset.version
        if col == COL_SIZE:
            return row.size or 0
        if col == COL_CREATED:
            return row.asset.created_at
        return self.display(row, col).lower()

    def decoration(self, row: DataRow, col: int) -> Any:
        if col == COL_EXISTS and row.exists is not None:
            return status_icon("Completed" if row.exists else "Failed")
        return None

    def tooltip(self, row: DataRow, col: int) -> str | None:
        if col == COL_PATH:
            return row.asset.path
        if col == COL_EXISTS and row.exists is False:
            return f"{row.asset.path} is gone: jobs that use this asset will fail"
        if col == COL_NAME:
            return f"use it in a job as azureml:{row.asset.name}:{row.asset.version} ({Path(row.asset.path).name})"
        return None
