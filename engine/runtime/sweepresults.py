"""What a sweep's controller records for the front ends: the sweep run's properties (its settings,
the trial counts, the best trial) and the mark on a trial its early-termination policy stopped.

One typed module, written by engine.sweeps.controller and engine.runs.submit, read by the CLI, the
studio and the re-run path; nobody reads these property keys but this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RECORDED_BY_SUPERVISORS",
    "SWEEP_PROPERTY_KEYS",
    "SweepRecord",
    "SweepResult",
    "early_termination_reason",
    "is_sweep",
    "primary_metric_of",
    "stopped_early",
    "stopped_early_properties",
    "sweep_run_properties",
    "trial_properties",
]

RUN_TYPE = "run_type"
SWEEP = "sweep"
PRIMARY_METRIC = "primary_metric"
GOAL = "goal"
TRIALS = "trials"
BEST_CHILD = "best_child_run_id"
BEST_VALUE = "best_metric_value"
BEST_PARAMS = "best_params"
# A trial the sweep's early-termination policy canceled (the controller sets it with the cancel).
STOPPED_EARLY = "stopped_early"
# The start of such a trial's error; trials recorded before STOPPED_EARLY existed are known by it.
_EARLY_TERMINATION = "early termination"

# Everything a sweep run records of itself (the studio shows them in its own section).
SWEEP_PROPERTY_KEYS = (RUN_TYPE, SWEEP, PRIMARY_METRIC, GOAL, TRIALS, BEST_CHILD, BEST_VALUE, BEST_PARAMS)
# Properties that say how a run went rather than what was asked: a re-run starts without them.
RECORDED_BY_SUPERVISORS = ("environment_hash", "environment_cached", "environment_lock", "image", "signal", "cancel_reason",
                           STOPPED_EARLY, TRIALS, BEST_CHILD, BEST_VALUE, BEST_PARAMS)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class SweepResult:
    """What became of the trials: counts by status, and the best completed trial (if any)."""

    trials: dict[str, int] = field(default_factory=dict)
    best_child_run_id: str | None = None
    best_metric_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)

    def to_properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {TRIALS: dict(self.trials)}
        if self.best_child_run_id is not None:
            props.update({BEST_CHILD: self.best_child_run_id, BEST_VALUE: self.best_metric_value,
                          BEST_PARAMS: dict(self.best_params)})
        return props

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> SweepResult:
        trials = props.get(TRIALS)
        best = props.get(BEST_CHILD)
        params = props.get(BEST_PARAMS)
        return cls(trials={str(k): int(v) for k, v in trials.items()} if isinstance(trials, dict) else {},
                   best_child_run_id=str(best) if best else None,
                   best_metric_value=_finite(props.get(BEST_VALUE)),
                   best_params=dict(params) if isinstance(params, dict) else {})


@dataclass(frozen=True)
class SweepRecord:
    """A sweep run's properties: its search (as engine.runtime.launchspec.SweepSettings.settings_json
    gives it), its objective and, once trials ended, its result."""

    primary_metric: str
    goal: str  # minimize | maximize
    settings: dict[str, Any]
    result: SweepResult

    @property
    def search_space(self) -> dict[str, Any]:
        space = self.settings.get("search_space")
        return space if isinstance(space, dict) else {}

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> SweepRecord | None:
        """None when the run is not a sweep."""
        if not is_sweep(props):
            return None
        settings = props.get(SWEEP)
        settings = dict(settings) if isinstance(settings, dict) else {}
        metric = props.get(PRIMARY_METRIC) or settings.get("primary_metric") or ""
        goal = props.get(GOAL) or settings.get("goal") or "minimize"
        return cls(str(metric), str(goal), settings, SweepResult.from_properties(props))


def is_sweep(props: Mapping[str, Any]) -> bool:
    """Whether a run with these properties is a sweep's run (its trials are its children)."""
    return props.get(RUN_TYPE) == SWEEP


def sweep_run_properties(primary_metric: str, goal: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The properties that make a run a sweep's run (engine.runs.submit records them)."""
    return {RUN_TYPE: SWEEP, PRIMARY_METRIC: primary_metric, GOAL: goal, SWEEP: settings}


def trial_properties(primary_metric: str, goal: str) -> dict[str, Any]:
    """What a trial records of its sweep's objective (its primary metric is what tables show)."""
    return {PRIMARY_METRIC: primary_metric, GOAL: goal}


def primary_metric_of(props: Mapping[str, Any]) -> str | None:
    """The primary metric a sweep or a trial records, if any."""
    value = props.get(PRIMARY_METRIC)
    return str(value) if value else None


def early_termination_reason(why: str) -> str:
    """The error of a trial the policy stopped: why, in words."""
    return f"{_EARLY_TERMINATION}: {why}"


def stopped_early_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """`props` with the stopped-early mark."""
    return {**props, STOPPED_EARLY: True}


def stopped_early(status: str, props: Mapping[str, Any], error: str | None) -> bool:
    """Whether a trial was canceled by its sweep's early-termination policy."""
    if status != "Canceled":
        return False
    return bool(props.get(STOPPED_EARLY)) or (error or "").startswith(_EARLY_TERMINATION)

