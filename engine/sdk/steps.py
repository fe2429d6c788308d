"""SDK v1's pipeline steps: `PythonScriptStep` (a script with arguments) and `CommandStep` (a
shell command), each a command step of the pipeline YAML. Data in `arguments` becomes
`${{inputs.NAME}}` / `${{outputs.NAME}}` there, so the script receives the folder's path, as in
Azure ML."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec
from engine.sdk.data import DatasetConsumptionConfig, FileDataset
from engine.sdk.pipelinedata import PipelineParameter, step_data
from engine.sdk.v2.dataio import binding


class PipelineStep:
    def __init__(
        self,
        *,
        name: str | None,
        compute_target: Any,
        runconfig: Any,
        source_directory: str | None,
        inputs: list[Any] | None,
        outputs: list[Any] | None,
        allow_reuse: bool,
        arguments: list[Any],
    ) -> None:
        self.name = name
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.source_directory = source_directory
        self.inputs = list(inputs or [])
        self.outputs = list(outputs or [])
        self.allow_reuse = allow_reuse
        self.arguments = list(arguments)
        self._keys: dict[int, str] = {}
        for out in self.outputs:
            found = step_data(out)
            if found is None:
                raise InvalidSpec(
                    f"step {name!r}: outputs= holds {out!r}",
                    "list PipelineData or OutputFileDatasetConfig objects",
                    field="outputs",
                )
            data = found[0]
            if data.producer is not None and data.producer is not self:
                raise InvalidSpec(
                    f"{data!r} is the output of two steps ({data.producer.name!r} and {name!r})",
                    "give each step its own PipelineData",
                    field="outputs",
                )
            data.producer = self

    def run_after(self, step: Any) -> None:
        raise InvalidSpec(
            f"step {self.name!r}: run_after() is not supported",
            "pass data from that step to this one (a PipelineData in its outputs= and in this "
            "step's inputs=): steps run as soon as their inputs exist",
            field="run_after",
        )

    def upstream(self) -> list[Any]:
        """The steps whose outputs this one reads."""
        found = []
        for value in [*self.inputs, *self.arguments]:
            data = step_data(value)
            if data is not None and data[0].producer is not None and data[0].producer is not self:
                found.append(data[0].producer)
        return found

    def _command_words(self) -> list[str]:
        raise NotImplementedError

    def to_yaml(self, workspace: Any, parameters: dict[str, Any], keys: dict[int, str]) -> dict[str, Any]:
        """This step as a pipeline YAML `jobs:` entry (`keys`: each step's key in `jobs:`, by id);
        PipelineParameters it uses are added to `parameters` (the pipeline's inputs)."""
        self._keys = keys
        inputs: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        produced = [found for found in map(step_data, self.outputs) if found is not None]
        own = {id(data) for data, _name in produced}
        for data, _name in produced:
            outputs[data.name] = {"type": "uri_folder"}
        words = [self._word(arg, inputs, outputs, own, parameters) for arg in self._command_words_and_args()]
        for value in self.inputs:  # inputs= not among the arguments still order the steps
            self._word(value, inputs, outputs, own, parameters)
        doc: dict[str, Any] = {"type": "command"}
        if self.name:
            doc["display_name"] = self.name
        if self.source_directory:
            doc["code"] = str(Path(self.source_directory).resolve())
        doc["command"] = " ".join(words)
        env = _environment(self.runconfig, workspace)
        if env is not None:
            doc["environment"] = env
        compute = getattr(self.compute_target, "name", self.compute_target)
        if compute:
            doc["compute"] = str(compute)
        env_vars = dict(getattr(self.runconfig, "environment_variables", None) or {})
        if env_vars:
            doc["environment_variables"] = {k: str(v) for k, v in env_vars.items()}
        if inputs:
            doc["inputs"] = inputs
        if outputs:
            doc["outputs"] = outputs
        if not self.allow_reuse:
            doc["is_deterministic"] = False
        return doc

    def _command_words_and_args(self) -> list[Any]:
        return [*(_Literal(w) for w in self._command_words()), *self.arguments]

    def _word(
        self,
        value: Any,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        own: set[int],
        parameters: dict[str, Any],
    ) -> str:
        if isinstance(value, _Literal):
            return value.text
        found = step_data(value)
        if found is not None:
            data, name = found
            if id(data) in own:
                return binding("outputs", data.name)
            if data.producer is None:
                raise InvalidSpec(
                    f"step {self.name!r} reads {data!r}, which no step writes",
                    "list it in the outputs= of the step that writes it",
                    field="inputs",
                )
            if id(data.producer) not in self._keys:
                raise InvalidSpec(
                    f"step {self.name!r} reads {data!r}, written by step {data.producer.name!r}, "
                    "which is not part of the pipeline",
                    "add that step to Pipeline(steps=[...])",
                    field="steps",
                )
            inputs[name] = binding("parent", "jobs", self._keys[id(data.producer)], "outputs", data.name)
            return binding("inputs", name)
        if isinstance(value, PipelineParameter):
            parameters[value.name] = value.default_value
            inputs[value.name] = binding("parent", "inputs", value.name)
            return binding("inputs", value.name)
        if isinstance(value, DatasetConsumptionConfig):
            inputs[value.name] = {"type": "uri_folder", "path": value.local_path}
            return binding("inputs", value.name)
        if isinstance(value, FileDataset):
            return shlex.quote(str(value.path))
        return shlex.quote(str(value))


class _Literal:
    def __init__(self, text: str) -> None:
        self.text = text


class PythonScriptStep(PipelineStep):
    """`PythonScriptStep(script_name, name=None, arguments=None, compute_target=None, runconfig=None,
    inputs=None, outputs=None, source_directory=None, allow_reuse=True)`."""

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list[Any] | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        **_ignored: Any,
    ) -> None:
        super().__init__(
            name=name or Path(script_name).stem,
            compute_target=compute_target,
            runconfig=runconfig,
            source_directory=source_directory,
            inputs=inputs,
            outputs=outputs,
            allow_reuse=allow_reuse,
            arguments=list(arguments or []),
        )
        self.script_name = script_name
        self.params = dict(params or {})

    def _command_words(self) -> list[str]:
        return ["python", shlex.quote(self.script_name)]


class CommandStep(PipelineStep):
    """`CommandStep(command=..., name=None, compute_target=None, runconfig=None, inputs=None,
    outputs=None, source_directory=None, allow_reuse=True)`: a shell command (as a string, written
    as the pipeline YAML would have it)."""

    def __init__(
        self,
        command: str,
        name: str | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        **_ignored: Any,
    ) -> None:
        super().__init__(
            name=name or "command",
            compute_target=compute_target,
            runconfig=runconfig,
            source_directory=source_directory,
            inputs=inputs,
            outputs=outputs,
            allow_reuse=allow_reuse,
            arguments=[],
        )
        self.command = command

    def _command_words(self) -> list[str]:
        return [self.command]


def _environment(runconfig: Any, workspace: Any) -> str | None:
    """A step's environment as a registered reference (an unregistered one is registered: a step
    of a pipeline names its environment; an unchanged one keeps its version)."""
    env = getattr(runconfig, "environment", None)
    if env is None:
        return None
    spec = env.to_spec()
    if spec.curated:
        return f"azureml:{spec.name}@latest"
    registered = env.register(workspace)
    return f"azureml:{registered.name}:{registered.version}"
