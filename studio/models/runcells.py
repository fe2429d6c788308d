"""The runs table's columns, roles and the text of its fixed cells; a run's tags as the Tags
cell shows and edits them. No model state here (studio.models.runs holds that)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from engine import entities as E
from engine.errors import InvalidSpec
from studio.style import fmt_number, fmt_time_full

COLUMNS = ("Name", "Status", "Type", "Experiment", "Compute", "Started", "Duration", "Tags")
COL_NAME, COL_STATUS, COL_TYPE, COL_EXPERIMENT, COL_COMPUTE, COL_STARTED, COL_DURATION, COL_TAGS = range(
    len(COLUMNS)
)
# Columns the store sorts by, besides the metric columns.
SORTS = {
    COL_NAME: "name",
    COL_STATUS: "status",
    COL_EXPERIMENT: "experiment",
    COL_COMPUTE: "compute",
    COL_STARTED: "start",
    COL_DURATION: "duration",
    COL_TAGS: "tags",
}
RUN_ROLE = Qt.ItemDataRole.UserRole + 2
DEPTH_ROLE = Qt.ItemDataRole.UserRole + 3  # 1 for a child row shown under its parent
EXPAND_ROLE = Qt.ItemDataRole.UserRole + 4  # None: no children; else whether they are shown


def fmt_value(value: float | None) -> str:
    return fmt_number(value) if value is not None else ""


def cell_tooltip(run: E.Run, col: int) -> str | None:
    if col == COL_NAME:
        return run.name if run.display_name == run.name else f"{run.display_name}\n{run.name}"
    if col == COL_STATUS and run.error:
        return run.error
    if col == COL_STARTED:
        return fmt_time_full(run.start_time or run.created_at)
    if col == COL_TAGS and run.tags:
        return "\n".join(f"{k} = {v}" for k, v in run.tags.items())
    return None


def parse_tags(text: str, *, inline: bool = False) -> dict[str, str]:
    """`key=value` pairs, one a line (or, `inline`, separated by commas as the Tags cell shows
    them). InvalidSpec names the pair that is wrong and how to write it."""
    where = "pair" if inline else "line"
    parts = text.split(",") if inline else text.splitlines()
    tags: dict[str, str] = {}
    for n, part in enumerate(parts, start=1):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InvalidSpec(
                f"tags, {where} {n}: {part!r} is not key=value", "write each tag as key=value, e.g. stage=dev"
            )
        if key in tags:
            raise InvalidSpec(f"tags, {where} {n}: the tag {key!r} is given twice", "keep one of them")
        tags[key] = value.strip()
    return tags


def tags_text(tags: dict[str, Any], *, inline: bool = False) -> str:
    return (", " if inline else "\n").join(f"{k}={v}" for k, v in tags.items())
