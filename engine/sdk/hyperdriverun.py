"""`HyperDriveRun`: the run `Experiment.submit(HyperDriveConfig(...))` returns, a sweep's run whose
children are its trials (engine.sdk.hyperdrive). A trial's primary metric is the last value it logged,
as the sweep controller ranks them."""

from __future__ import annotations

import json
import math
from typing import Any

from engine.runtime.sweepresults import SweepRecord
from engine.sdk.hyperdrive import HYPERDRIVE_FLAGS
from engine.sdk.run import Run

__all__ = ["HyperDriveRun"]


class HyperDriveRun(Run):
    """The sweep's run (`Experiment.submit(HyperDriveConfig(...))`); its children are the trials."""

    @property
    def _sweep(self) -> tuple[str, str]:
        record = SweepRecord.from_properties(self._engine.get_run(self._id).properties)
        return (record.primary_metric, record.goal) if record is not None else ("", "minimize")

    def _ranked(self) -> list[tuple[Run, dict[str, Any], float | None, str]]:
        metric, _goal = self._sweep
        flags = self._engine.get_run(self._id).properties.get(HYPERDRIVE_FLAGS) or {}
        out = []
        for child in self._engine.children(self._id):
            values = self._engine.metric_history(child.name, metric).values.tolist() if metric else []
            final = float(values[-1]) if values else None
            if final is not None and math.isnan(final):
                final = None
            params = {flags.get(k, k): v for k, v in child.params.items()}
            out.append((Run(self.experiment, child.name), params, final, child.status))
        return out

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """The trials, best first (by their last value of the primary metric), as Azure ML gives
        them: run_id, hyperparameters, best_primary_metric, status. Trials without a value come last."""
        _metric, goal = self._sweep
        trials = self._ranked()
        scored = sorted(
            (t for t in trials if t[2] is not None),
            key=lambda t: t[2] or 0.0,
            reverse=(goal == "maximize") != reverse,
        )
        unscored = [] if discard_no_metric else [t for t in trials if t[2] is None]
        ranked = [
            {
                "run_id": run.id,
                "hyperparameters": json.dumps(params),
                "best_primary_metric": value,
                "status": status,
            }
            for run, params, value, status in scored + unscored
        ]
        return ranked[:top] if top else ranked

    def get_best_run_by_primary_metric(
        self,
        include_failed: bool = True,
        include_canceled: bool = True,
        include_resume_from_runs: bool = True,
    ) -> Run | None:
        """The trial with the best primary metric (None when none logged it)."""
        _metric, goal = self._sweep
        kept = [
            (run, value)
            for run, _p, value, status in self._ranked()
            if value is not None
            and (include_failed or status != "Failed")
            and (include_canceled or status != "Canceled")
        ]
        if not kept:
            return None
        pick = max if goal == "maximize" else min
        return pick(kept, key=lambda rv: rv[1])[0]

    def get_hyperparameters(self) -> dict[str, str]:
        """run id -> its hyperparameters (a JSON string, as Azure ML gives them)."""
        return {run.id: json.dumps(params) for run, params, _v, _s in self._ranked()}

    def get_metrics(self, name: str | None = None, **_ignored: Any) -> dict[str, Any]:
        """run id -> that trial's metrics (HyperDriveRun.get_metrics gives its children's)."""
        return {run.id: run.get_metrics(name) for run, _p, _v, _s in self._ranked()}
