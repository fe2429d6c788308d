"""`Input` and `Output`: a step's data and parameters, as SDK v2 declares them, and the bindings
between steps (a step's output fed to another step's input, a pipeline input fed to a step)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_TYPES = ("uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model")
PARAM_TYPES = ("string", "integer", "number", "boolean")


class Input:
    """A data input (`type='uri_folder'|'uri_file'|...`, `path=`, `mode=`) or a typed parameter
    (`type='integer'|'number'|'string'|'boolean'`, `default=`, `optional=`, `enum=`)."""

    def __init__(
        self,
        *,
        type: str = "uri_folder",
        path: str | Path | None = None,
        mode: str | None = None,
        default: Any = None,
        optional: bool | None = None,
        description: str | None = None,
        enum: list[Any] | None = None,
        min: float | None = None,
        max: float | None = None,
        **_ignored: Any,
    ) -> None:
        self.type = type
        self.path = path
        self.mode = mode
        self.default = default
        self.optional = optional
        self.description = description
        self.enum = enum
        self.min = min
        self.max = max

    @property
    def is_data(self) -> bool:
        return self.type not in PARAM_TYPES

    def value(self) -> Any:
        """What a step input or pipeline input holds when this is given: a data input its
        `{type, path, mode}`; a parameter its default (None when it has none)."""
        if not self.is_data:
            return self.default
        if self.path is None:
            return None
        out: dict[str, Any] = {"type": self.type, "path": absolute_path_text(self.path)}
        if self.mode:
            out["mode"] = self.mode
        return out

    def __repr__(self) -> str:
        return (
            f"Input(type={self.type!r}, path={self.path!r})"
            if self.is_data
            else f"Input(type={self.type!r}, default={self.default!r})"
        )


class Output:
    """A step's output (`type='uri_folder'` by default; `mode='rw_mount'|'upload'`)."""

    def __init__(
        self,
        *,
        type: str = "uri_folder",
        path: str | None = None,
        mode: str | None = None,
        description: str | None = None,
        **_ignored: Any,
    ) -> None:
        self.type = type
        self.path = path
        self.mode = mode
        self.description = description

    def to_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.mode:
            out["mode"] = self.mode
        if self.path:
            out["path"] = self.path
        return out

    def __repr__(self) -> str:
        return f"Output(type={self.type!r})"


def absolute_path_text(path: str | Path) -> str:
    """A local path absolute (a pipeline built in Python is loaded with the current folder as its
    base); URLs and `azureml:` references as they are."""
    text = str(path)
    if "://" in text or text.startswith("azureml:"):
        return text
    return str(Path(text).expanduser().resolve())


def binding(*parts: str) -> str:
    """`${{a.b.c}}`: a reference the pipeline loader resolves."""
    return "${{" + ".".join(parts) + "}}"


@dataclass(frozen=True)
class PipelineInput:
    """Inside a `@pipeline` function: one of its parameters (`${{parent.inputs.NAME}}`)."""

    name: str

    def binding(self) -> str:
        return binding("parent", "inputs", self.name)


@dataclass(frozen=True)
class StepOutput:
    """`step.outputs.NAME`: fed to another step's input, or returned as a pipeline output."""

    step: Any  # engine.sdk.v2.component.Step
    name: str

    def binding(self) -> str:
        return binding("parent", "jobs", self.step.name, "outputs", self.name)


class Outputs:
    """`step.outputs`: attribute (or item) access to a step's outputs by name."""

    def __init__(self, step: Any, names: list[str]) -> None:
        self._step = step
        self._names = names

    def __getattr__(self, name: str) -> StepOutput:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> StepOutput:
        from engine.errors import InvalidSpec

        if name not in self._names:
            raise InvalidSpec(
                f"step {self._step.name!r} has no output {name!r}",
                "its outputs: " + (", ".join(self._names) or "none (declare them in command(outputs={...}))"),
                field="outputs",
            )
        return StepOutput(self._step, name)

    def __iter__(self) -> Any:
        return iter(self._names)

    def __repr__(self) -> str:
        return f"Outputs({', '.join(self._names)})"
