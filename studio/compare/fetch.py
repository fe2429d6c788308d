"""What one refresh of the Compare view reads, off the GUI thread. No Qt in this module.

A run that has ended and was read once costs nothing more, unless a chart that was just built
needs its points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import entities as E
from studio.metricpoints import MetricPoints, new_points


@dataclass
class CompareState:
    runs: list[str]
    # Set by the GUI before each fetch: run -> charted key -> points its series holds.
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # Kept by the fetch: runs read after they had ended, and their summaries.
    ended: dict[str, list[E.MetricSummary]] = field(default_factory=dict)
    seen_ended: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class CompareUpdate:
    runs: dict[str, E.Run]  # the runs read this time (ended runs read before are left out)
    summaries: dict[str, list[E.MetricSummary]]  # likewise
    points: dict[tuple[str, str], MetricPoints]  # (run, key) -> new points

    @property
    def has_news(self) -> bool:
        return bool(self.runs or self.points)


def fetch_compare(engine: Any, state: CompareState) -> CompareUpdate:
    runs: dict[str, E.Run] = {}
    summaries: dict[str, list[E.MetricSummary]] = {}
    points: dict[tuple[str, str], MetricPoints] = {}
    for name in state.runs:
        known = state.ended.get(name)
        if known is None:
            run = runs[name] = engine.get_run(name)
            known = summaries[name] = engine.metric_summaries(name)
            if run.is_terminal:
                # Read once more after the end, for the points ingested as it ended.
                if name in state.seen_ended:
                    state.ended[name] = known
                state.seen_ended.add(name)
        for key, new in new_points(engine, name, known, state.counts.get(name, {})).items():
            points[(name, key)] = new
    return CompareUpdate(runs, summaries, points)
