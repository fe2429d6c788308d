"""What the pipeline graph shows, whatever it came from. No Qt in this module.

A live pipeline run gives the engine's `PipelineGraph` (a state per step); a pipeline YAML the
Submit dialog previews gives only its steps and their data. Both become a `GraphModel`: steps as
nodes, data as edges `(from_step, output, to_step, input)`. `structure()` is what the layout
depends on, so the page lays the graph out again only when a step or an edge comes or goes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A step the engine has not started yet has no status of its own.
NOT_STARTED = "NotStarted"


@dataclass(frozen=True)
class StepNode:
    name: str
    status: str = NOT_STARTED
    run_name: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    reused_from: str | None = None
    detail: str = ""  # one line under the name: the command, the component

    def duration(self, now: float | None = None) -> float | None:
        """Seconds the step ran (still running: until `now`); None before it started."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else (now if now is not None else time.time())
        return max(0.0, end - self.started_at)


@dataclass(frozen=True)
class DataEdge:
    source: str
    output: str
    target: str
    input: str

    @property
    def label(self) -> str:
        return self.output if self.output == self.input else f"{self.output} → {self.input}"


@dataclass(frozen=True)
class GraphModel:
    steps: tuple[StepNode, ...]
    edges: tuple[DataEdge, ...]

    def step(self, name: str) -> StepNode:
        return next(s for s in self.steps if s.name == name)

    def structure(self) -> tuple[tuple[str, ...], tuple[DataEdge, ...]]:
        return tuple(s.name for s in self.steps), self.edges

    def counts(self) -> dict[str, int]:
        """How many steps are in each status (a reused step counts as such)."""
        out: dict[str, int] = {}
        for s in self.steps:
            key = "Reused" if s.reused_from else s.status
            out[key] = out.get(key, 0) + 1
        return out


def _edges(raw: Iterable[Any]) -> tuple[DataEdge, ...]:
    out: list[DataEdge] = []
    for e in raw:
        src, output, dst, inp = (e.source, e.output, e.target, e.input) if isinstance(e, DataEdge) else e
        out.append(DataEdge(str(src), str(output), str(dst), str(inp)))
    return tuple(dict.fromkeys(out))  # each once, in order


def from_engine_graph(graph: Any) -> GraphModel:
    """The engine's PipelineGraph (steps: StepState(name, run_name, status, started_at, ended_at,
    reused_from); edges: (from_step, output, to_step, input))."""
    steps = tuple(
        StepNode(
            name=s.name,
            status=s.status or NOT_STARTED,
            run_name=s.run_name,
            started_at=s.started_at,
            ended_at=s.ended_at,
            reused_from=s.reused_from,
            detail=getattr(s, "detail", "") or "",
        )
        for s in graph.steps
    )
    return GraphModel(steps, _edges(graph.edges))


def from_spec(spec: Any) -> GraphModel:
    """A loaded PipelineSpec (engine.specs.pipeline): its steps, none started."""
    steps = tuple(StepNode(name=name, detail=_step_detail(step)) for name, step in spec.steps.items())
    return GraphModel(steps, _edges(spec.edges()))


def _step_detail(step: Any) -> str:
    for attr in ("display_name", "component_name", "command"):
        value = getattr(step, attr, None)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


def from_pipeline_dict(data: Mapping[str, Any]) -> GraphModel:
    """A pipeline YAML's mapping as Azure ML writes it (`jobs:` whose inputs bind
    `${{parent.jobs.STEP.outputs.NAME}}`), read without validating it: enough to draw."""
    jobs = data.get("jobs") or {}
    steps = []
    edges = []
    for name, job in jobs.items():
        job = job if isinstance(job, Mapping) else {}
        detail = job.get("display_name") or job.get("component") or job.get("command") or ""
        steps.append(
            StepNode(name=str(name), detail=" ".join(str(detail).split()) if isinstance(detail, str) else "")
        )
        for inp, value in (job.get("inputs") or {}).items():
            bound = value.get("path") if isinstance(value, Mapping) else value
            ref = parent_output_ref(bound)
            if ref is not None:
                edges.append((ref[0], ref[1], str(name), str(inp)))
    return GraphModel(tuple(steps), _edges(edges))


def parent_output_ref(value: Any) -> tuple[str, str] | None:
    """`${{parent.jobs.STEP.outputs.NAME}}` -> (STEP, NAME); anything else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.startswith("${{") and text.endswith("}}")):
        return None
    parts = text[3:-2].strip().split(".")
    if len(parts) == 5 and parts[0] == "parent" and parts[1] == "jobs" and parts[3] == "outputs":
        return parts[2], parts[4]
    return None
