"""The child runs of a run and, for a sweep, its trials: what the Child runs tab, the sweep
charts and the Overview show, read and summarised without Qt widgets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine import entities as E
from engine.runtime import sweepresults
from studio.style import fmt_value, plural, status_label


@dataclass(frozen=True)
class ChildRow:
    run: E.Run
    metric: str  # "key = value" of its primary metric, or ''
    value: float | None = None  # a sweep trial's last value of the sweep's primary metric


@dataclass(frozen=True)
class SweepInfo:
    """The sweep run whose trials the tab lists (Qt-free; the Overview uses it too)."""

    metric: str
    goal: str  # minimize | maximize
    params: tuple[str, ...]  # the hyperparameter columns: search-space order, then any other
    kinds: dict[str, str]  # parameter -> its distribution ("choice", "loguniform"...)
    choices: dict[str, tuple[Any, ...]]  # choice parameters -> their values, in the file's order
    bounds: dict[str, tuple[float, float]]  # bounded parameters -> the values they can take (lowest, highest)
    best: str | None  # the best trial: the sweep's record, or while it runs the best completed one
    running: bool = False  # the sweep has not ended: its best is the best so far


@dataclass(frozen=True)
class Children:
    rows: list[ChildRow]
    sweep: SweepInfo | None  # None: not a sweep run


def is_sweep(run: E.Run) -> bool:
    return sweepresults.is_sweep(run.properties)


def stopped_early(run: E.Run) -> bool:
    """A trial the sweep's early termination policy cancelled (its error says why)."""
    return sweepresults.stopped_early(run.status, run.properties, run.error)


def fmt_param(value: Any) -> str:
    """A hyperparameter as a table cell: floats to 4 significant digits."""
    return fmt_value(value)


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt_param(v)}" for k, v in params.items())


def finite_number(value: Any) -> float | None:
    """A finite float of a numeric value (None for text, bools, missing, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def primary_metric(run: E.Run, summaries: list[E.MetricSummary]) -> str:
    """The child's `primary_metric` (a property sweeps set) or else its first scalar metric."""
    scalars = {s.key: s for s in summaries if s.kind == "scalar"}
    key = sweepresults.primary_metric_of(run.properties)
    if key not in scalars:
        key = min(scalars) if scalars else None
    return f"{key} = {fmt_value(scalars[key].last_value)}" if key else ""


def trial_counts(runs: list[E.Run]) -> str:
    """'6 completed, 1 running, 2 stopped early': the trials by what became of them."""
    counts: dict[str, int] = {}
    for run in runs:
        if stopped_early(run):
            what = "stopped early"
        elif run.status in ("Running", "Finalizing"):
            what = "running"
        elif run.status in ("Preparing", "Starting"):
            what = "starting"
        elif not run.is_terminal:
            what = "queued"
        else:
            what = status_label(run.status).lower()
        counts[what] = counts.get(what, 0) + 1
    order = ("completed", "running", "starting", "queued", "stopped early", "canceled", "failed")
    keys = sorted(counts, key=lambda k: order.index(k) if k in order else len(order))
    return ", ".join(f"{counts[k]:,} {k}" for k in keys)


def best_trial(sweep: E.Run, rows: list[ChildRow], goal: str) -> str | None:
    """The sweep's recorded best trial, or (while it runs) its best completed trial so far."""
    record = sweepresults.SweepRecord.from_properties(sweep.properties)
    recorded = record.result.best_child_run_id if record is not None else None
    if recorded and any(r.run.name == recorded for r in rows):
        return str(recorded)
    done = [r for r in rows if r.run.status == "Completed" and r.value is not None and not math.isnan(r.value)]
    if not done:
        return None
    pick = min if goal == "minimize" else max
    return pick(done, key=lambda r: r.value if r.value is not None else math.nan).run.name


def sweep_info(sweep: E.Run, rows: list[ChildRow]) -> SweepInfo:
    record = sweepresults.SweepRecord.from_properties(sweep.properties)
    space = record.search_space if record is not None else {}
    metric = record.primary_metric if record is not None else ""
    goal = record.goal if record is not None else "minimize"
    used = {k for r in rows for k in r.run.params}
    params = [k for k in space if k in used] + sorted(used - set(space))
    if not rows:  # nothing ran yet: the search space says what the columns will be
        params = list(space)
    kinds = {k: str(space[k].get("type", "")) for k in params if isinstance(space.get(k), dict)}
    choices = {k: tuple(space[k].get("values") or ()) for k in params if kinds.get(k) == "choice"}
    bounds = {k: b for k in params if (b := _bounds(space[k] if isinstance(space.get(k), dict) else {})) is not None}
    return SweepInfo(metric, goal, tuple(params), kinds, choices, bounds, best_trial(sweep, rows, goal),
                     not sweep.is_terminal)


def _bounds(dist: dict[str, Any]) -> tuple[float, float] | None:
    """The range a bounded distribution draws from (loguniform bounds are exponents of e)."""
    kind = dist.get("type")
    try:
        if kind in ("uniform", "quniform"):
            return float(dist["min_value"]), float(dist["max_value"])
        if kind in ("loguniform", "qloguniform"):
            return math.exp(float(dist["min_value"])), math.exp(float(dist["max_value"]))
        if kind == "randint":
            return 0.0, float(dist["upper"]) - 1
    except (KeyError, TypeError, ValueError, OverflowError):
        pass
    return None


def sweep_summary(rows: list[ChildRow], info: SweepInfo) -> str:
    """'8 trials · 6 completed, 2 stopped early · best quiet_dingo_6: val_loss 0.1167 (lr=0.001129)'."""
    if not rows:
        return "No trials yet"
    text = f"{plural(len(rows), 'trial')} · {trial_counts([r.run for r in rows])}"
    best = next((r for r in rows if r.run.name == info.best), None)
    if best is not None:
        text += f" · best {'so far ' if info.running else ''}{best.run.name}"
        if best.value is not None:
            text += f": {info.metric} {fmt_value(best.value)}"
        if best.run.params:
            text += f" ({fmt_params(best.run.params)})"
    return text


def load_children(engine: Any, name: str) -> Children:
    parent = engine.get_run(name)
    sweep = is_sweep(parent)
    metric = sweepresults.primary_metric_of(parent.properties) if sweep else None
    rows = []
    for child in engine.children(name):
        summaries = engine.metric_summaries(child.name)
        value = None
        if sweep:
            last = next((s.last_value for s in summaries if s.key == metric and s.kind == "scalar"), None)
            value = float(last) if isinstance(last, (int, float)) else None
        rows.append(ChildRow(child, primary_metric(child, summaries), value))
    return Children(rows, sweep_info(parent, rows) if sweep else None)
