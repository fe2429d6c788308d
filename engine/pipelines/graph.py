"""A pipeline run's graph as it stands: its plan's steps and edges (the run's spec.json) joined with
its child runs (one per started step) and what its controller recorded about steps it skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from engine import entities as E
from engine.errors import InvalidState
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import read_spec
from engine.runtime.pipelineplan import PIPELINE_PROPERTY, REUSED_FROM, STEP_PROPERTY

__all__ = ["RunReader", "pipeline_graph"]


class RunReader(Protocol):
    """What the graph reads: the store, or engine.store.lite's reader (`job show`)."""

    def get_run(self, name: str) -> E.Run: ...
    def list_children(self, name: str) -> list[E.Run]: ...


def pipeline_graph(store: RunReader, run_name: str) -> E.PipelineGraph:
    run = store.get_run(run_name)  # NotFound names close matches
    try:
        plan = read_spec(RunFiles(Path(run.run_dir)).spec).pipeline
    except OSError:
        plan = None
    if plan is None:
        raise InvalidState(
            f"job {run_name!r} is not a pipeline",
            "give the name of a pipeline run "
            "(`trainyard job list` shows them; a step's run names its pipeline as parent_job_name)",
        )
    children = {c.properties.get(STEP_PROPERTY): c for c in store.list_children(run_name)}
    skipped = dict((run.properties.get(PIPELINE_PROPERTY) or {}).get("skipped") or {})
    steps = []
    for name, step in plan.steps.items():
        child = children.get(name)
        if child is not None:
            steps.append(
                E.StepState(
                    name,
                    child.name,
                    child.status,
                    child.start_time,
                    child.end_time,
                    child.properties.get(REUSED_FROM),
                    step.kind,
                    step.display_name or name,
                    child.error,
                )
            )
        elif name in skipped:
            steps.append(
                E.StepState(
                    name,
                    None,
                    "Canceled",
                    kind=step.kind,
                    display_name=step.display_name or name,
                    error=f"not run: {skipped[name]}",
                )
            )
        else:
            status = "Canceled" if run.is_terminal else "NotStarted"
            steps.append(
                E.StepState(name, None, status, kind=step.kind, display_name=step.display_name or name)
            )
    return E.PipelineGraph(run_name, run.status, tuple(steps), tuple(plan.edges))
