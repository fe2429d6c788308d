"""A chart's picture and data out of the studio: PNG of the chart as shown, CSV of every point
of every series (not the downsampled curve), from the chart's right-click menu."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QWidget

from engine.errors import InvalidState
from studio.errors import show_error

CSV_HEADER = ("series", "label", "step", "value", "timestamp")


def write_csv(plot: Any, path: Path) -> int:
    """Every logged point of every series of `plot` (a MetricPlot); returns the rows written."""
    rows = 0
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_HEADER)
        for sid, s in plot.series.items():
            stamps = s.stamps.view if s.has_stamps else [None] * len(s.steps.view)
            for step, value, stamp in zip(s.steps.view, s.values.view, stamps, strict=True):
                out.writerow(
                    (sid, s.label, int(step), repr(float(value)), "" if stamp is None else repr(float(stamp)))
                )
                rows += 1
    return rows


def write_png(plot: Any, path: Path) -> None:
    if not plot.grab().save(str(path), "PNG"):
        raise InvalidState(f"cannot write the picture {path}", "choose a folder you can write to")


def _file_name(plot: Any, suffix: str) -> str:
    return plot.key.replace("/", "_").replace(" ", "_") + suffix


def add_export_actions(plot: Any) -> None:
    """'Save chart as PNG…' and 'Save data as CSV…' in the chart's right-click menu."""
    menu = plot.getPlotItem().getViewBox().menu
    menu.addSeparator()
    menu.addAction("Save chart as PNG…", lambda: _ask(plot, "PNG image (*.png)", ".png", write_png))
    menu.addAction("Save data as CSV…", lambda: _ask(plot, "CSV file (*.csv)", ".csv", write_csv))


def _ask(plot: QWidget, kind: str, suffix: str, write: Any) -> None:
    name, _ = QFileDialog.getSaveFileName(plot, f"Save {plot.key}", _file_name(plot, suffix), kind)  # type: ignore[attr-defined]
    if not name:
        return
    path = Path(name if name.endswith(suffix) else name + suffix)
    try:
        write(plot, path)
    except (OSError, InvalidState) as exc:
        show_error(
            plot,
            exc
            if isinstance(exc, InvalidState)
            else InvalidState(
                f"cannot write {path}: {exc.strerror or exc}", "choose a folder you can write to"
            ),
        )
