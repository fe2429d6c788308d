"""`command(...)`: a command step as SDK v2 builds it, and `Step`, one use of it in a pipeline.

`command(code=..., command="python train.py --data ${{inputs.data}} --out ${{outputs.model}}",
inputs={...}, outputs={...}, environment=...)` makes a `CommandComponent`. Called inside a
`@pipeline` function with its inputs (`train(data=prep.outputs.clean)`) it adds a `Step` to that
pipeline and returns it; `step.outputs.NAME` feeds later steps. Settings may be changed on the step
afterwards (`step.compute = "gpu-box"`), as in SDK v2.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec
from engine.sdk.v2.context import current_builder
from engine.sdk.v2.dataio import (
    Input,
    Output,
    Outputs,
    PipelineInput,
    StepOutput,
    absolute_path_text,
    binding,
)


class CommandComponent:
    """A reusable command step definition (an az ml `commandComponent`)."""

    def __init__(
        self,
        *,
        command: str = "",
        code: str | Path | None = None,
        name: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        environment: Any = None,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Output | None] | None = None,
        compute: str | None = None,
        environment_variables: dict[str, str] | None = None,
        resources: dict[str, Any] | None = None,
        distribution: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
        is_deterministic: bool = True,
        tags: dict[str, Any] | None = None,
        version: str | None = None,
        **_ignored: Any,
    ) -> None:
        if not isinstance(command, str) or not command.strip():
            raise InvalidSpec(
                "command(...) needs command='...': the shell command the step runs",
                "e.g. command('python train.py --data ${{inputs.data}}')",
                field="command",
            )
        self.command = command
        # A relative code folder is the current folder's, when the step is built (as SDK v2 reads it).
        self.code = absolute_path_text(code) if code is not None else None
        self.name = name
        self.display_name = display_name
        self.description = description
        self.environment = environment
        self.inputs = dict(inputs or {})
        self.outputs = {k: v if v is not None else Output() for k, v in (outputs or {}).items()}
        self.compute = compute
        self.environment_variables = dict(environment_variables or {})
        self.resources = resources
        self.distribution = distribution
        self.limits = limits
        self.is_deterministic = is_deterministic
        self.tags = dict(tags or {})
        self.version = version

    def __call__(self, **inputs: Any) -> Step:
        """This component as a step of the pipeline being built, with `inputs` (others keep the
        values given to `command(inputs=...)`)."""
        unknown = sorted(set(inputs) - set(self.inputs))
        if unknown:
            raise InvalidSpec(
                f"{self._label()} has no input {unknown[0]!r}",
                "its inputs: " + (", ".join(self.inputs) or "none (declare them in command(inputs={...}))"),
                field="inputs",
            )
        step = Step(self, {**self.inputs, **inputs})
        builder = current_builder()
        if builder is not None:
            builder.add(step)
        return step

    def _label(self) -> str:
        return f"command {self.name!r}" if self.name else "this command"

    def __repr__(self) -> str:
        return f"CommandComponent(name={self.name!r}, command={self.command!r})"


def command(**kwargs: Any) -> CommandComponent:
    """A command step (SDK v2's `azure.ai.ml.command`): `code`, `command`, `inputs`, `outputs`,
    `environment`, `compute`, `environment_variables`, `resources`, `distribution`, `limits`,
    `name`, `display_name`, `is_deterministic`."""
    return CommandComponent(**kwargs)


class Step:
    """One step of a pipeline: a component with its inputs bound."""

    def __init__(self, component: CommandComponent, inputs: dict[str, Any]) -> None:
        self.component = component
        self.inputs = inputs
        # Set by the user, or by the pipeline: after its variable, else its command's name (as Azure ML).
        self.name: str | None = None
        self.display_name = component.display_name
        self.compute = component.compute
        self.environment = component.environment
        self.environment_variables = dict(component.environment_variables)
        self.resources = copy.deepcopy(component.resources)
        self.distribution = copy.deepcopy(component.distribution)
        self.limits = copy.deepcopy(component.limits)
        self.is_deterministic = component.is_deterministic
        self._outputs = Outputs(self, list(component.outputs))
        self.bound_outputs: dict[str, str] = {}  # output -> pipeline output it is returned as

    @property
    def outputs(self) -> Outputs:
        return self._outputs

    def to_yaml(self) -> dict[str, Any]:
        """This step as a pipeline YAML's `jobs:` entry."""
        c = self.component
        doc: dict[str, Any] = {"type": "command"}
        if self.display_name:
            doc["display_name"] = self.display_name
        if c.description:
            doc["description"] = c.description
        if c.code is not None:
            doc["code"] = c.code
        doc["command"] = c.command
        env = _environment(self.environment)
        if env is not None:
            doc["environment"] = env
        if self.compute:
            doc["compute"] = self.compute
        inputs = {}
        for key, value in self.inputs.items():
            bound = self._input(key, value)
            if bound is not None:
                inputs[key] = bound
        if inputs:
            doc["inputs"] = inputs
        if c.outputs:
            doc["outputs"] = {
                key: (
                    binding("parent", "outputs", self.bound_outputs[key])
                    if key in self.bound_outputs
                    else out.to_yaml()
                )
                for key, out in c.outputs.items()
            }
        for key in ("environment_variables", "resources", "distribution", "limits"):
            value = getattr(self, key)
            if value:
                doc[key] = dict(value)
        if not self.is_deterministic:
            doc["is_deterministic"] = False
        return doc

    def _input(self, key: str, value: Any) -> Any:
        if isinstance(value, StepOutput | PipelineInput):
            return value.binding()
        if isinstance(value, Input):
            given = value.value()
            if given is None and not value.optional:
                raise InvalidSpec(
                    f"step {self.name!r}: input {key!r} is not given",
                    f"pass it when calling the command: {self.name}({key}=...)",
                    field="inputs",
                )
            return given
        if isinstance(value, Output):
            raise InvalidSpec(
                f"step {self.name!r}: input {key!r} is given an Output",
                "give it another step's output (other_step.outputs.NAME) or an Input",
                field="inputs",
            )
        if isinstance(value, Step):
            raise InvalidSpec(
                f"step {self.name!r}: input {key!r} is given a whole step",
                f"give one of its outputs: {value.name}.outputs.NAME",
                field="inputs",
            )
        if isinstance(value, Path):
            return {"type": "uri_folder" if value.is_dir() else "uri_file", "path": absolute_path_text(value)}
        return value

    def __repr__(self) -> str:
        return f"Step(name={self.name!r})"


def _environment(env: Any) -> Any:
    """`azureml:NAME@latest` / `NAME:VERSION` as given; an SDK v1 Environment by its reference; a
    mapping (inline `image:` / `conda_file:` / `build:`) as it is."""
    if env is None or isinstance(env, str | dict):
        return env
    name, version = getattr(env, "name", None), getattr(env, "version", None)
    if name:
        return f"azureml:{name}:{version}" if version else f"azureml:{name}@latest"
    raise InvalidSpec(
        f"environment={env!r} is not an environment reference",
        "give 'azureml:NAME@latest', 'NAME:VERSION', or a mapping such as {'conda_file': 'env.yml'}",
        field="environment",
    )
