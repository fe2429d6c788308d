"""The table of experiments: run counts, the latest run, and the primary metric's best and latest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import entities as E
from engine.experiments import PrimaryMetric
from studio.models.rows import ROW_ROLE, SORT_ROLE, RowTableModel
from studio.style import (
    fmt_duration,
    fmt_time,
    fmt_time_full,
    fmt_value,
    run_duration,
    status_icon,
    status_label,
)

__all__ = ["COLUMNS", "NAME_ROLE", "SORT_ROLE", "ExperimentRow", "ExperimentTableModel", "RecentRunsModel",
           "summarise"]

COLUMNS = ("Experiment", "Runs", "Active", "Last run", "Metric", "Best", "Latest")
COL_NAME, COL_RUNS, COL_ACTIVE, COL_LATEST, COL_METRIC, COL_BEST, COL_LAST_VALUE = range(len(COLUMNS))
NAME_ROLE = ROW_ROLE + 1
RECENT = 12  # runs listed in the detail pane


@dataclass(frozen=True)
class ExperimentRow:
    experiment: E.Experiment
    run_count: int
    active: int
    latest: E.Run | None
    recent: tuple[E.Run, ...] = ()  # newest first
    metric: PrimaryMetric | None = None


def summarise(experiments: list[E.Experiment], runs: list[E.Run],
              metrics: dict[str, PrimaryMetric] | None = None) -> list[ExperimentRow]:
    """Join the store's experiments with the runs the studio already holds (and the primary
    metrics loaded from the engine)."""
    by_exp: dict[str, list[E.Run]] = {}
    for run in runs:
        by_exp.setdefault(run.experiment_name, []).append(run)
    rows = []
    for exp in experiments:
        mine = sorted(by_exp.get(exp.name, []), key=lambda r: r.created_at, reverse=True)
        rows.append(ExperimentRow(exp, max(exp.run_count, len(mine)), sum(1 for r in mine if not r.is_terminal),
                                  mine[0] if mine else None, tuple(mine[:RECENT]), (metrics or {}).get(exp.name)))
    return rows


def goal_arrow(metric: PrimaryMetric) -> str:
    return "↓" if metric.goal == "minimize" else "↑"


class ExperimentTableModel(RowTableModel[ExperimentRow]):
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = frozenset({COL_RUNS, COL_ACTIVE, COL_BEST, COL_LAST_VALUE})

    def key(self, row: ExperimentRow) -> Any:
        return row.experiment.name

    def display(self, row: ExperimentRow, col: int) -> str:
        latest, metric = row.latest, row.metric
        if col == COL_NAME:
            return row.experiment.name
        if col == COL_RUNS:
            return str(row.run_count)
        if col == COL_ACTIVE:
            return str(row.active) if row.active else ""
        if col == COL_LATEST:
            return fmt_time(latest.created_at) if latest else ""
        if metric is None:
            return ""
        if col == COL_METRIC:
            return f"{metric.key} {goal_arrow(metric)}"
        return fmt_value(metric.best if col == COL_BEST else metric.latest)

    def sort_key(self, row: ExperimentRow, col: int) -> Any:
        if col == COL_RUNS:
            return row.run_count
        if col == COL_ACTIVE:
            return row.active
        if col == COL_LATEST:
            return row.latest.created_at if row.latest else 0.0
        if col in (COL_BEST, COL_LAST_VALUE):
            v = None if row.metric is None else (row.metric.best if col == COL_BEST else row.metric.latest)
            return float("-inf") if v is None else v
        return self.display(row, col).lower()

    def data(self, index: Any, role: int = 0) -> Any:
        if role == NAME_ROLE and index.isValid():
            return self.row_at(index.row()).experiment.name
        return super().data(index, role)

    def decoration(self, row: ExperimentRow, col: int) -> Any:
        if col == COL_LATEST and row.latest is not None:
            return status_icon(row.latest.status)
        return None

    def tooltip(self, row: ExperimentRow, col: int) -> str | None:
        m = row.metric
        if col == COL_LATEST and row.latest:
            return (f"{row.latest.display_name}: {status_label(row.latest.status)}, "
                    f"{fmt_time_full(row.latest.created_at)}")
        if m is not None and col == COL_METRIC:
            return f"the primary metric ({'lower' if m.goal == 'minimize' else 'higher'} is better)"
        if m is not None and col == COL_BEST and m.best_run:
            return f"best point, in run {m.best_run}"
        if m is not None and col == COL_LAST_VALUE and m.latest_run:
            return f"last value of the newest run that logged it ({m.latest_run})"
        return None


class RecentRunsModel(RowTableModel[E.Run]):
    COLUMNS = ("Run", "Status", "Started", "Duration")

    def key(self, row: E.Run) -> Any:
        return row.name

    def display(self, row: E.Run, col: int) -> str:
        return (row.display_name, status_label(row.status), fmt_time(row.start_time or row.created_at),
                fmt_duration(run_duration(row.start_time, row.end_time)))[col]

    def sort_key(self, row: E.Run, col: int) -> Any:
        return row.created_at if col == 2 else self.display(row, col).lower()

    def decoration(self, row: E.Run, col: int) -> Any:
        return status_icon(row.status) if col == 1 else None
