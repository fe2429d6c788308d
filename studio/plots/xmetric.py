"""The points of the metric that the "metric" x mode plots against (PlotOptions.x_metric), per
run, as StepAxis objects for the charts. No Qt here.

The x metric may have no chart of its own (filtered away, not scrolled into view, not chosen in
Compare): then its points are read for the axis alone and kept here; where its chart holds them,
the chart's series is used instead of a second copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.plots.series import Series, StepAxis


class XMetricPoints:
    def __init__(self) -> None:
        self.key = ""
        self._points: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._axes: dict[str, StepAxis | None] = {}

    def reset(self, key: str) -> None:
        """Plot against `key` from now on ("" for none): what was read for another key goes."""
        self.key = key
        self._points.clear()
        self._axes.clear()

    def count(self, run: str) -> int:
        """How many points of the x metric are kept for `run` (the next read starts there)."""
        return len(self._points.get(run, ((), ()))[1])

    def add(self, run: str, start: int, history: Any) -> None:
        """Points read for the axis: `history` (steps, values) starting at point `start`."""
        steps, values = self._points.get(run, (np.empty(0, np.int64), np.empty(0)))
        if start == 0:
            steps, values = np.empty(0, np.int64), np.empty(0)
        elif start != len(values):
            return  # read while the choice changed; the next read starts from the count
        self._points[run] = (np.concatenate([steps, np.asarray(history.steps, np.int64)]),
                             np.concatenate([values, np.asarray(history.values, np.float64)]))

    def axis(self, run: str, chart_series: Series | None) -> StepAxis | None:
        """The axis of `run` (the same object until its points change; None before any point).
        `chart_series`: the x metric's own chart series for the run, when one holds points."""
        if not self.key:
            return None
        if chart_series is not None and len(chart_series):
            steps, values = chart_series.steps.view, chart_series.values.view
        else:
            steps, values = self._points.get(run, (np.empty(0, np.int64), np.empty(0)))
        axis = self._axes.get(run)
        if axis is None or len(axis) != len(values):
            axis = self._axes[run] = StepAxis(self.key, steps.copy(), values.copy()) if len(values) else None
        return axis
