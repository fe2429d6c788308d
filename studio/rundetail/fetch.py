"""What one refresh of the run detail reads, off the GUI thread. No Qt in this module.

The detail keeps a `FetchState` (what it already shows) and, at most once at a time, runs
`fetch(engine, state)` in the background; the returned `DetailUpdate` holds only what is new:
for each charted metric the points after those its chart holds (whole stored chunks before them
are skipped), and the lists/rows/tables/images whose count changed. The logs, outputs and
snapshot tabs read their own files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import entities as E
from engine.runs.files import DRIVER_LOG
from studio.metricpoints import MetricPoints, new_points

DRIVER_LOG_REL = f"azureml-logs/{DRIVER_LOG}"


@dataclass
class FetchState:
    """Set by the GUI before each fetch (the fetch only reads it)."""

    name: str
    metric_counts: dict[str, int] = field(default_factory=dict)  # charted key -> points its chart holds
    object_counts: dict[str, int] = field(default_factory=dict)  # list/row/table/image key -> shown


@dataclass(frozen=True)
class DetailUpdate:
    run: E.Run
    summaries: list[E.MetricSummary]
    points: dict[str, MetricPoints]
    objects: dict[str, list[E.MetricObject]]  # every object of each key whose count changed

    @property
    def has_news(self) -> bool:
        return bool(self.points or self.objects)


def fetch(engine: Any, state: FetchState) -> DetailUpdate:
    run = engine.get_run(state.name)
    summaries = engine.metric_summaries(state.name)
    shown = dict(state.object_counts)
    points = new_points(engine, state.name, summaries, dict(state.metric_counts))
    objects = {s.key: engine.metric_objects(state.name, s.key) for s in summaries
               if s.kind != "scalar" and s.count != shown.get(s.key, 0)}
    return DetailUpdate(run, summaries, points, objects)
