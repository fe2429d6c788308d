"""A pipeline run's plan: what the process that submits a pipeline tells its controller (in the
pipeline run's spec.json, engine.runtime.launchspec), and what the graph view reads.

Everything in it is resolved at submit: each step's code is a snapshot, its environment a spec,
its compute a target name, each input a literal, a data input on this machine with its content
hash, or the output of another step. The controller only decides when each step runs, and whether
an earlier identical step can stand in for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["PIPELINE_PROPERTY", "REUSED_FROM", "STEP_PROPERTY", "PipelinePlan", "PlannedInput", "PlannedStep"]

# Run properties: a pipeline run's ({"steps": [...], "skipped": {step: why}}), a step's child run's
# (the step's name), a reused step's (the run whose outputs it reused).
PIPELINE_PROPERTY = "pipeline"
STEP_PROPERTY = "pipeline_step"
REUSED_FROM = "reused_from"


@dataclass(frozen=True)
class PlannedInput:
    """One input of a step: `kind` "literal" (`value`), "data" (`path` on this machine, `type`,
    `mode`, `content_hash`, `given` as written) or "step" (the output `output` of step `step`)."""

    kind: str
    value: Any = None
    type: str | None = None
    mode: str | None = None
    path: str | None = None
    given: str | None = None
    content_hash: str | None = None
    step: str | None = None
    output: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PlannedInput:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class PlannedStep:
    name: str
    kind: str  # command | sweep
    command: str
    compute: str
    experiment_name: str
    display_name: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    snapshot_id: str | None = None
    environment: str | None = None  # the reference as the run records it
    environment_spec: dict[str, Any] | None = None  # EnvironmentSpec.to_dict()
    environment_hash: str | None = None  # what identifies the environment's build
    interpreter_path: str | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, PlannedInput] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> DataOutput.to_dict()
    to_parent: dict[str, str] = field(default_factory=dict)
    gpus: int | str | None = None
    shm_size: str | None = None
    instance_type: str | None = None
    distribution: dict[str, Any] | None = None
    timeout_seconds: float | None = None
    is_deterministic: bool = True
    component: str | None = None  # NAME:VERSION or the file, for the record
    sweep: dict[str, Any] | None = (
        None  # a sweep step's search (engine.runtime.launchspec.SweepSettings JSON)
    )

    def upstream(self) -> set[str]:
        return {i.step for i in self.inputs.values() if i.kind == "step" and i.step}

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["inputs"] = {n: i.to_json() for n, i in self.inputs.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PlannedStep:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in d.items() if k in known}
        data["inputs"] = {n: PlannedInput.from_json(i) for n, i in (d.get("inputs") or {}).items()}
        return cls(**data)


@dataclass(frozen=True)
class PipelinePlan:
    steps: dict[str, PlannedStep]
    edges: list[tuple[str, str, str, str]]
    outputs: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # pipeline output -> DataOutput.to_dict()
    continue_on_step_failure: bool = True
    force_rerun: bool = False
    workspace: str = ""
    data_root: str = ""
    models_root: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": {n: s.to_json() for n, s in self.steps.items()},
            "edges": [list(e) for e in self.edges],
            "outputs": self.outputs,
            "continue_on_step_failure": self.continue_on_step_failure,
            "force_rerun": self.force_rerun,
            "workspace": self.workspace,
            "data_root": self.data_root,
            "models_root": self.models_root,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PipelinePlan:
        return cls(
            steps={n: PlannedStep.from_json(s) for n, s in d["steps"].items()},
            edges=[(str(a), str(b), str(c), str(e)) for a, b, c, e in d.get("edges") or []],
            outputs=dict(d.get("outputs") or {}),
            continue_on_step_failure=bool(d.get("continue_on_step_failure", True)),
            force_rerun=bool(d.get("force_rerun")),
            workspace=str(d.get("workspace") or ""),
            data_root=str(d.get("data_root") or ""),
            models_root=str(d.get("models_root") or ""),
        )
