"""A pipeline job, resolved and validated, whatever it came from (YAML, the SDK's builders): its
steps, how their inputs are bound to the pipeline's inputs and to other steps' outputs, and its
settings. engine.specs.pipeline reads the YAML into these; engine.pipelines submits and runs them.

Plain Python (no pydantic, no YAML), so that the pipeline's controller and the studio can hold one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.jobs.spec import DataInput, DataOutput, SweepSpec
from engine.runtime.distribution import Distribution

__all__ = [
    "STEP_KINDS",
    "Binding",
    "ComponentInput",
    "ComponentSpec",
    "PipelineSettings",
    "PipelineSpec",
    "StepSpec",
    "parse_binding",
    "with_component",
]

STEP_KINDS = ("command", "sweep")

# ${{parent.inputs.x}}, ${{parent.outputs.z}}, ${{parent.jobs.STEP.outputs.y}}
_BINDING = re.compile(
    r"\$\{\{\s*parent\.(?:(inputs|outputs)\.([\w.-]+)|jobs\.([\w-]+)\.outputs\.([\w.-]+))\s*\}\}"
)


@dataclass(frozen=True)
class Binding:
    """A value that comes from the pipeline: one of its inputs (`kind` "parent_input"), an output
    of another step ("step_output", `step` names it) or, on a step's output, the pipeline output it
    publishes ("parent_output"). `type`/`mode` are what the binding step asked for, when it did."""

    kind: str  # parent_input | step_output | parent_output
    name: str
    step: str | None = None
    type: str | None = None
    mode: str | None = None

    def text(self) -> str:
        if self.kind == "step_output":
            return f"${{{{parent.jobs.{self.step}.outputs.{self.name}}}}}"
        which = "inputs" if self.kind == "parent_input" else "outputs"
        return f"${{{{parent.{which}.{self.name}}}}}"


def parse_binding(value: object) -> Binding | None:
    """The binding a whole value is (`"${{parent.inputs.x}}"`), or None for anything else."""
    if not isinstance(value, str):
        return None
    m = _BINDING.fullmatch(value.strip())
    if m is None:
        return None
    if m.group(1):
        return Binding("parent_input" if m.group(1) == "inputs" else "parent_output", m.group(2))
    return Binding("step_output", m.group(4), step=m.group(3))


@dataclass(frozen=True)
class ComponentInput:
    """One input a command component declares (`commandComponent` schema)."""

    type: str = "uri_folder"
    default: Any = None
    optional: bool = False
    enum: tuple[Any, ...] | None = None
    description: str = ""
    min: float | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "default": self.default,
            "optional": self.optional,
            "enum": list(self.enum) if self.enum is not None else None,
            "description": self.description,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComponentInput:
        enum = d.get("enum")
        return cls(
            str(d.get("type") or "uri_folder"),
            d.get("default"),
            bool(d.get("optional")),
            tuple(enum) if enum is not None else None,
            str(d.get("description") or ""),
            d.get("min"),
            d.get("max"),
        )


@dataclass(frozen=True)
class ComponentSpec:
    """A command component: a reusable step (what to run, its declared inputs and outputs).
    `snapshot_id` is set for a registered one (its code was snapshotted when it was created);
    `code_dir` for one read from a file."""

    name: str
    command: str
    version: str | None = None
    display_name: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, ComponentInput] = field(default_factory=dict)
    outputs: dict[str, DataOutput] = field(default_factory=dict)
    code_dir: Path | None = None
    environment: str | None = None  # a reference, resolved at submit
    environment_spec: EnvironmentSpec | None = None  # inline
    environment_variables: dict[str, str] = field(default_factory=dict)
    is_deterministic: bool = True
    source_file: str | None = None
    snapshot_id: str | None = None
    created_at: float | None = None
    # the component's `resources:` and `distribution:`; a step's own values override them
    gpus: int | str | None = None
    shm_size: str | None = None
    instance_type: str | None = None
    distribution: Distribution | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the store keeps of a registered component (engine.store: components)."""
        return {
            "name": self.name,
            "version": self.version,
            "command": self.command,
            "display_name": self.display_name,
            "description": self.description,
            "tags": dict(self.tags),
            "inputs": {n: i.to_dict() for n, i in self.inputs.items()},
            "outputs": {n: o.to_dict() for n, o in self.outputs.items()},
            "code_dir": str(self.code_dir) if self.code_dir is not None else None,
            "environment": self.environment,
            "environment_spec": self.environment_spec.to_dict()
            if self.environment_spec is not None
            else None,
            "environment_variables": dict(self.environment_variables),
            "is_deterministic": self.is_deterministic,
            "source_file": self.source_file,
            "snapshot_id": self.snapshot_id,
            "created_at": self.created_at,
            "gpus": self.gpus,
            "shm_size": self.shm_size,
            "instance_type": self.instance_type,
            "distribution": self.distribution.to_dict() if self.distribution is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComponentSpec:
        env = d.get("environment_spec")
        return cls(
            name=str(d["name"]),
            command=str(d["command"]),
            version=str(d["version"]) if d.get("version") is not None else None,
            display_name=d.get("display_name"),
            description=str(d.get("description") or ""),
            tags=dict(d.get("tags") or {}),
            inputs={n: ComponentInput.from_dict(i) for n, i in (d.get("inputs") or {}).items()},
            outputs={n: DataOutput.from_dict(o) for n, o in (d.get("outputs") or {}).items()},
            code_dir=Path(d["code_dir"]) if d.get("code_dir") else None,
            environment=d.get("environment"),
            environment_spec=EnvironmentSpec.from_dict(env) if env else None,
            environment_variables={str(k): str(v) for k, v in (d.get("environment_variables") or {}).items()},
            is_deterministic=bool(d.get("is_deterministic", True)),
            source_file=d.get("source_file"),
            snapshot_id=d.get("snapshot_id"),
            created_at=d.get("created_at"),
            gpus=d.get("gpus"),
            shm_size=d.get("shm_size"),
            instance_type=d.get("instance_type"),
            distribution=Distribution.from_dict(d["distribution"]) if d.get("distribution") else None,
        )


@dataclass(frozen=True)
class StepSpec:
    """One step of a pipeline: a command (inline, or from a component) or a sweep.

    `inputs` map names to a literal, a DataInput (a local path or an azureml: asset, as a command
    job's) or a Binding; `outputs` are the step's outputs (those of its component, with what the step
    says), `to_parent` the pipeline outputs some of them publish. `component` is the reference as
    written (`./train.yml`, `azureml:train@latest`); a registered one (`component_spec` None until
    then) is resolved at submit. For a sweep step `sweep` holds the search (its `trial` the command).
    """

    name: str
    kind: str = "command"  # STEP_KINDS
    component: str | None = None
    component_spec: ComponentSpec | None = None
    display_name: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    code_dir: Path | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, DataOutput] = field(default_factory=dict)
    to_parent: dict[str, str] = field(default_factory=dict)  # step output -> pipeline output
    compute: str | None = None  # None: the pipeline's default_compute
    environment: str | None = None
    environment_spec: EnvironmentSpec | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    gpus: int | str | None = None
    shm_size: str | None = None
    instance_type: str | None = None
    distribution: Distribution | None = None
    # the step's own `resources.instance_count` when its registered component, looked up at submit,
    # may give the distribution (az ml merges the step over the component)
    instance_count: int | None = None
    timeout_seconds: float | None = None
    is_deterministic: bool = True
    sweep: SweepSpec | None = None
    line: int | None = None  # where the step starts in its file, for messages

    def bindings(self) -> dict[str, Binding]:
        return {n: v for n, v in self.inputs.items() if isinstance(v, Binding)}

    def upstream(self) -> set[str]:
        """The steps whose outputs this one reads."""
        return {b.step for b in self.bindings().values() if b.kind == "step_output" and b.step}


@dataclass(frozen=True)
class PipelineSettings:
    default_compute: str | None = None
    default_datastore: str | None = None  # accepted; outputs stay in the workspace
    # True (the default): a failing step cancels only what depends on it; False ends every step.
    continue_on_step_failure: bool = True
    force_rerun: bool = False


@dataclass(frozen=True)
class PipelineSpec:
    """A `type: pipeline` job. `inputs` map names to literals or DataInputs; `outputs` are what the
    pipeline run publishes (each the output of one step, `StepSpec.to_parent`)."""

    experiment_name: str
    steps: dict[str, StepSpec]
    name: str | None = None
    display_name: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, DataOutput] = field(default_factory=dict)
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    source_file: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def edges(self) -> list[tuple[str, str, str, str]]:
        """(from_step, output_name, to_step, input_name) for every `${{parent.jobs.S.outputs.y}}`."""
        return sorted(
            (b.step, b.name, step.name, inp)
            for step in self.steps.values()
            for inp, b in step.bindings().items()
            if b.kind == "step_output" and b.step is not None
        )

    def order(self) -> list[str]:
        """The steps in an order where each comes after the steps it reads from."""
        done: list[str] = []
        todo = dict(self.steps)
        while todo:
            ready = [n for n, s in todo.items() if s.upstream() <= set(done)]
            if not ready:  # a cycle (the loader refuses these): keep the written order
                done.extend(todo)
                break
            for n in ready:
                done.append(n)
                del todo[n]
        return done


def with_component(step: StepSpec, comp: ComponentSpec, source: str | None = None) -> StepSpec:
    """`step` (which names the registered component `comp`) with the component's command, code,
    environment, declared inputs (the step's values, else the defaults) and outputs filled in."""
    from dataclasses import replace

    from engine.errors import InvalidSpec

    def error(message: str, hint: str, field_: str) -> InvalidSpec:
        return InvalidSpec(
            f"step {step.name!r}: {message}",
            hint,
            file=source,
            line=step.line,
            field=f"jobs.{step.name}.{field_}",
        )

    for name in step.inputs:
        if name not in comp.inputs:
            raise error(
                f"input {name!r} is not declared by component {comp.name}:{comp.version} "
                f"(declared: {', '.join(sorted(comp.inputs)) or 'none'})",
                "fix the input's name",
                f"inputs.{name}",
            )
    for name in step.outputs:
        if name not in comp.outputs:
            raise error(
                f"output {name!r} is not declared by component {comp.name}:{comp.version} "
                f"(declared: {', '.join(sorted(comp.outputs)) or 'none'})",
                "fix the output's name",
                f"outputs.{name}",
            )
    inputs: dict[str, Any] = {}
    for name, decl in comp.inputs.items():
        value = step.inputs.get(name, decl.default)
        if value is None:
            if decl.optional:
                continue
            raise error(
                f"input {name!r} of component {comp.name}:{comp.version} is required, and the step "
                "gives none",
                f"add `{name}:` under the step's `inputs:`",
                "inputs",
            )
        if decl.enum is not None and not isinstance(value, (Binding, DataInput)) and value not in decl.enum:
            raise error(
                f"input {name!r} is {value!r}, not one of {list(decl.enum)}",
                "give one of the component's enum values",
                f"inputs.{name}",
            )
        if isinstance(value, Binding) and value.type is None:
            value = replace(value, type=decl.type)
        inputs[name] = value
    distribution = step.distribution or comp.distribution
    if step.instance_count is not None and step.instance_count < 1:
        raise error(f"`resources.instance_count` must be 1 or more, not {step.instance_count}", "e.g. 2",
                    "resources.instance_count")
    if step.instance_count is not None and distribution is None and step.instance_count != 1:
        raise error(
            f"`resources.instance_count: {step.instance_count}` needs a `distribution:`, and neither "
            f"the step nor its component {comp.name}:{comp.version} has one",
            "add `distribution: {type: pytorch, process_count_per_instance: 1}` to the step (or mpi)",
            "resources.instance_count",
        )
    if distribution is not None:
        # resources merge key by key: the step's instance_count, else the component's
        count = step.instance_count or (comp.distribution.instance_count if comp.distribution else 1)
        distribution = replace(distribution, instance_count=count)
    return replace(
        step,
        component_spec=comp,
        command=comp.command,
        code_dir=comp.code_dir,
        inputs=inputs,
        outputs={**step.outputs, **comp.outputs},
        environment=step.environment or comp.environment,
        environment_spec=step.environment_spec or comp.environment_spec,
        environment_variables={**comp.environment_variables, **step.environment_variables},
        is_deterministic=step.is_deterministic and comp.is_deterministic,
        description=step.description or comp.description,
        gpus=step.gpus if step.gpus is not None else comp.gpus,
        shm_size=step.shm_size or comp.shm_size,
        instance_type=step.instance_type or comp.instance_type,
        distribution=distribution,
    )
