"""The points of a run's metrics that a chart does not hold yet, read off the GUI thread (the run
detail and the Compare view both refresh their charts this way). No Qt in this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import entities as E


@dataclass(frozen=True)
class MetricPoints:
    """Points of one metric from index `start` on (start 0: its whole history)."""

    start: int
    history: E.MetricHistory


def new_points(engine: Any, run: str, summaries: list[E.MetricSummary],
               counts: dict[str, int]) -> dict[str, MetricPoints]:
    """For each charted scalar key (`counts`: key -> points its chart holds) that has more points
    now, the points after those (whole stored chunks before them are skipped)."""
    starts = {s.key: counts[s.key] for s in summaries
              if s.kind == "scalar" and s.key in counts and s.count > counts[s.key]}
    histories = engine.metric_histories_since(run, starts)
    return {key: MetricPoints(starts[key], h) for key, h in histories.items() if len(h)}
