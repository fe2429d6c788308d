"""`@pipeline`: a Python function whose body wires steps together, as SDK v2's `dsl.pipeline`.

Calling the decorated function runs its body once: each component it calls becomes a step, named
after the variable it is assigned to (as Azure ML names them), the function's parameters are the
pipeline's inputs and the mapping it returns (`{"model": train.outputs.model}`) its outputs. The
result is a `PipelineJob`, whose `to_dict()` is exactly what the same pipeline written as YAML
loads to. `submit` starts one (or a pipeline YAML file), loaded and checked exactly as
`trainyard job create -f pipeline.yml` loads it.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec
from engine.sdk.v2 import context
from engine.sdk.v2.component import Step
from engine.sdk.v2.dataio import Input, Output, PipelineInput, StepOutput

SETTINGS = ("default_compute", "default_datastore", "continue_on_step_failure", "force_rerun")


class PipelineJob:
    """A pipeline built in Python: its steps, inputs, outputs and settings."""

    def __init__(
        self,
        *,
        steps: dict[str, Step],
        inputs: dict[str, Any],
        outputs: dict[str, StepOutput],
        settings: dict[str, Any],
        name: str | None,
        display_name: str | None,
        description: str | None,
        experiment_name: str | None,
        tags: dict[str, Any],
    ) -> None:
        self.jobs = steps
        self.inputs = inputs
        self.outputs = outputs
        self.settings = settings
        self.name = name
        self.display_name = display_name
        self.description = description
        self.experiment_name = experiment_name
        self.tags = tags

    def to_dict(self) -> dict[str, Any]:
        """The pipeline YAML's mapping (`type: pipeline`, `jobs:`, `${{parent...}}` bindings)."""
        doc: dict[str, Any] = {"type": "pipeline"}
        for key in ("display_name", "description", "experiment_name"):
            value = getattr(self, key)
            if value:
                doc[key] = value
        if self.tags:
            doc["tags"] = dict(self.tags)
        if self.inputs:
            doc["inputs"] = {k: _pipeline_input(k, v) for k, v in self.inputs.items()}
        if self.outputs:
            doc["outputs"] = {
                k: out.step.component.outputs[out.name].to_yaml() for k, out in self.outputs.items()
            }
        settings = {k: v for k, v in self.settings.items() if v is not None}
        if settings:
            doc["settings"] = settings
        doc["jobs"] = {name: step.to_yaml() for name, step in self.jobs.items()}
        return doc

    def to_yaml(self, path: str | Path) -> Path:
        """Write the pipeline as a YAML file (`trainyard job create -f` runs it)."""
        from engine.specs.yamlfile import dump  # PyYAML: only when writing one

        out = Path(path)
        out.write_text(dump(self.to_dict()))
        return out

    def submit(self, *, workspace: Any = None, experiment_name: str | None = None) -> Any:
        """Run it; see `submit`."""
        return submit(self, workspace=workspace, experiment_name=experiment_name)

    def __repr__(self) -> str:
        return f"PipelineJob(steps={list(self.jobs)})"


def _pipeline_input(name: str, value: Any) -> Any:
    if isinstance(value, Input):
        given = value.value()
        if given is None and not value.optional:
            raise InvalidSpec(
                f"pipeline input {name!r} has no value",
                f"pass it when calling the pipeline function: ({name}=...)",
                field="inputs",
            )
        return given
    if isinstance(value, Path):
        return Input(type="uri_folder" if value.is_dir() else "uri_file", path=value).value()
    return value


def pipeline(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    experiment_name: str | None = None,
    default_compute: str | None = None,
    default_datastore: str | None = None,
    continue_on_step_failure: bool | None = None,
    force_rerun: bool | None = None,
    tags: dict[str, Any] | None = None,
    **_ignored: Any,
) -> Any:
    """Decorate a function that wires steps: `@pipeline` or `@pipeline(default_compute=...)`."""
    settings = {
        "default_compute": default_compute,
        "default_datastore": default_datastore,
        "continue_on_step_failure": continue_on_step_failure,
        "force_rerun": force_rerun,
    }

    def decorate(fn: Callable[..., Any]) -> Callable[..., PipelineJob]:
        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> PipelineJob:
            if context.current_builder() is not None:
                raise InvalidSpec(
                    f"pipeline {fn.__name__!r} is called inside another pipeline",
                    "nested pipelines are not supported yet: call its steps' commands directly",
                    field="jobs",
                )
            bound = inspect.signature(fn).bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            builder = context.push()
            try:
                returned, local_names = _run_capturing_locals(fn, {k: PipelineInput(k) for k in values})
            finally:
                context.pop()
            steps = _name_steps(builder.steps, local_names)
            outputs = _outputs(fn.__name__, returned)
            for out_name, out in outputs.items():
                out.step.bound_outputs[out.name] = out_name
            return PipelineJob(
                steps=steps,
                inputs=values,
                outputs=outputs,
                settings=settings,
                name=name or fn.__name__,
                display_name=display_name or name or fn.__name__,
                description=description or inspect.getdoc(fn),
                experiment_name=experiment_name,
                tags=dict(tags or {}),
            )

        return build

    return decorate(func) if func is not None else decorate


def _run_capturing_locals(fn: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Any, dict[int, str]]:
    """Call `fn(**kwargs)` and return what it returned with the names of its local variables that
    hold steps (id(step) -> name): Azure ML names a pipeline's steps after them too."""
    names: dict[int, str] = {}
    code = getattr(fn, "__code__", None)
    previous = sys.getprofile()

    def profiler(frame: Any, event: Any, arg: Any) -> None:
        if event == "return" and frame.f_code is code:
            for var, value in frame.f_locals.items():
                if isinstance(value, Step) and id(value) not in names:
                    names[id(value)] = var
        if previous is not None:
            previous(frame, event, arg)

    sys.setprofile(profiler)
    try:
        returned = fn(**kwargs)
    finally:
        sys.setprofile(previous)
    return returned, names


def _name_steps(steps: list[Step], local_names: dict[int, str]) -> dict[str, Step]:
    out: dict[str, Step] = {}
    for step in steps:
        base = step.name or local_names.get(id(step)) or step.component.name or _name_from_command(step)
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}_{n}"
        step.name = name
        out[name] = step
    if not out:
        raise InvalidSpec(
            "the pipeline function calls no command",
            "call the commands it runs, e.g. train = train_cmd(data=...)",
            field="jobs",
        )
    return out


def _name_from_command(step: Step) -> str:
    """An unnamed step of an unnamed command: its script's name (`python score.py` -> score)."""
    for word in step.component.command.split():
        if word.endswith(".py"):
            stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(word).stem)
            if stem and (stem[0].isalpha() or stem[0] == "_"):
                return stem
    return "step"


def _outputs(fn_name: str, returned: Any) -> dict[str, StepOutput]:
    if returned is None:
        return {}
    if not isinstance(returned, dict) or not all(isinstance(v, StepOutput) for v in returned.values()):
        raise InvalidSpec(
            f"pipeline {fn_name!r} returns {type(returned).__name__}",
            "return None, or a mapping of pipeline output names to steps' outputs "
            "({'model': train.outputs.model})",
            field="outputs",
        )
    return dict(returned)


__all__ = ["Output", "PipelineJob", "pipeline"]


def _workspace(workspace: Any) -> Any:
    from engine.sdk.workspace import Workspace  # the engine (SQLAlchemy): only when submitting

    if workspace is None:  # as the CLI picks it: -w, $TRAINYARD_WORKSPACE, the nearest .trainyard/, ...
        return Workspace.from_config()
    if isinstance(workspace, str | os.PathLike):
        return Workspace(workspace)
    if not hasattr(workspace, "engine"):
        raise InvalidSpec(
            f"workspace={workspace!r} is not a workspace",
            "give a Workspace (Workspace.from_config()), a workspace folder, or nothing for the current one",
            field="workspace",
        )
    return workspace


def submit(job: Any, *, workspace: Any = None, experiment_name: str | None = None) -> Any:
    """Start `job` (a `@pipeline` function's PipelineJob, or the path of a pipeline YAML) in
    `workspace` (a Workspace, a folder, or None: the current one, as the CLI picks it) and return
    its run (a PipelineRun: `wait_for_completion()`, `get_steps()`, `find_step_run(name)`)."""
    # The workspace's engine (SQLAlchemy) and the loader (pydantic) load only when submitting.
    from engine.sdk.experiment import Experiment
    from engine.sdk.pipelinerun import PipelineRun
    from engine.specs.pipeline import load_pipeline, load_pipeline_file

    ws = _workspace(workspace)
    if isinstance(job, PipelineJob):
        data = job.to_dict()
        if experiment_name:
            data["experiment_name"] = experiment_name
        # Paths in it are absolute already; anything relative is the current folder's, as in SDK v2.
        spec = load_pipeline(data, Path.cwd(), source=None)
    elif isinstance(job, str | os.PathLike):
        spec = load_pipeline_file(Path(job))
        if experiment_name:
            from dataclasses import replace

            spec = replace(spec, experiment_name=experiment_name)
    else:
        raise InvalidSpec(
            f"cannot submit {type(job).__name__}",
            "give the result of a @pipeline function, or the path of a pipeline YAML",
            field="job",
        )
    run = ws.engine.submit_pipeline(spec)
    return PipelineRun(Experiment(ws, run.experiment_name), run.name)
