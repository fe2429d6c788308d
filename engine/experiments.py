"""An experiment's primary metric: the one number a user compares its runs by.

The metric is the run's `primary_metric` tag or property when one is set (as sweeps set it), else
the scalar metric with the most points in the newest run that logged scalars (ties: by name).
Its goal is the `primary_metric_goal` tag/property (`minimize` | `maximize`), else guessed from the
name: losses and errors are minimised, everything else (accuracy, AUC, F1…) maximised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.entities import MetricSummary, Run
from engine.runtime.sweepresults import primary_metric_of

_MINIMISED = re.compile(r"loss|err|rmse|mse|mae|mape|perplexity|wer|cer|nll|distance", re.IGNORECASE)


@dataclass(frozen=True)
class PrimaryMetric:
    key: str
    goal: str  # minimize | maximize
    best: float | None  # best point of any of the runs looked at
    best_run: str | None
    latest: float | None  # the last value of the newest run that logged it
    latest_run: str | None

    @staticmethod
    def choose(runs: Sequence[tuple[Run, Sequence[MetricSummary]]]) -> PrimaryMetric | None:
        """From (run, its metric summaries), newest run first; None when no run logged a scalar."""
        key = goal = None
        for run, summaries in runs:
            named = run.tags.get("primary_metric") or primary_metric_of(run.properties)
            scalars = [m for m in summaries if m.kind == "scalar"]
            if named and any(m.key == named for m in scalars):
                key = str(named)
            elif scalars:
                key = min(scalars, key=lambda m: (-m.count, m.key)).key
            if key is not None:
                goal = run.tags.get("primary_metric_goal") or run.properties.get("primary_metric_goal")
                break
        if key is None:
            return None
        if str(goal).lower() not in ("minimize", "maximize"):
            goal = "minimize" if _MINIMISED.search(key) else "maximize"
        goal = str(goal).lower()
        best = best_run = latest = latest_run = None
        for run, summaries in runs:
            m = next((m for m in summaries if m.key == key and m.kind == "scalar"), None)
            if m is None:
                continue
            if latest_run is None:
                latest, latest_run = _float(m.last_value), run.name
            point = m.min_value if goal == "minimize" else m.max_value
            if point is None:
                continue
            if best is None or (point < best if goal == "minimize" else point > best):
                best, best_run = float(point), run.name
        return PrimaryMetric(key, goal, best, best_run, latest, latest_run)


def _float(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
