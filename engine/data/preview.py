"""The first rows of a data asset's table (the Data page's preview): a CSV file, or the first
CSV/Parquet file of a folder. CSV through the standard library; Parquet through pyarrow, when it
is installed (it is not a dependency of Trainyard)."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Preview", "preview_table"]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
_READ_BYTES = 256 * 1024


@dataclass(frozen=True)
class Preview:
    file: str | None  # the file shown (None: none found)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""  # why there is nothing to show, or that the rows are cut


def _first_table(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() in TABLE_SUFFIXES else None
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            if Path(name).suffix.lower() in TABLE_SUFFIXES:
                return Path(dirpath) / name
    return None


def preview_table(path: str | Path, limit: int = 20) -> Preview:
    """Up to `limit` rows of the first table under `path` (a file or folder)."""
    p = Path(path)
    if not p.exists():
        return Preview(None, note=f"{p} does not exist")
    table = _first_table(p)
    if table is None:
        return Preview(None, note="no CSV or Parquet file to preview")
    if table.suffix.lower() == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            return Preview(str(table), note="previewing Parquet needs pyarrow (pip install pyarrow)")
        import pyarrow.parquet as pq  # type: ignore[import-not-found]  # optional, heavy: Parquet only

        parquet = pq.ParquetFile(table)
        batch = next(parquet.iter_batches(batch_size=limit), None)
        if batch is None:
            return Preview(str(table), list(parquet.schema_arrow.names), [], "no rows")
        data = batch.to_pydict()
        columns = list(data)
        rows = [[str(data[c][i]) for c in columns] for i in range(batch.num_rows)]
        return Preview(str(table), columns, rows)
    with open(table, "rb") as f:
        text = f.read(_READ_BYTES).decode("utf-8", "replace")
    lines = text.splitlines()
    if len(text) == _READ_BYTES and lines:
        lines = lines[:-1]  # a cut line
    delimiter = "\t" if table.suffix.lower() == ".tsv" else ","
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:5]), delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    parsed = list(csv.reader(io.StringIO("\n".join(lines[: limit + 1])), delimiter=delimiter))
    if not parsed:
        return Preview(str(table), note="the file is empty")
    more = len(lines) > limit + 1
    return Preview(str(table), parsed[0], parsed[1:], f"the first {limit} rows" if more else "")
