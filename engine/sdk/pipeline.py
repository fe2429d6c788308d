"""SDK v1's `Pipeline` (`azureml.pipeline.core`): steps wired by PipelineData, submitted with
`Experiment.submit(pipeline)`. It becomes the mapping of a pipeline YAML, loaded and run as
`trainyard job create -f pipeline.yml` would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec
from engine.sdk.experiment import Experiment
from engine.sdk.pipelinerun import PipelineRun
from engine.sdk.steps import PipelineStep


def step_key(name: str) -> str:
    """A step's key in the pipeline's `jobs:` (a name with spaces, as v1 allows, gets underscores)."""
    key = re.sub(r"[^A-Za-z0-9_]", "_", name.strip()) or "step"
    return key if key[0].isalpha() or key[0] == "_" else f"step_{key}"


class Pipeline:
    """`Pipeline(workspace, steps, description=None, continue_on_step_failure=None)`: the steps
    listed and every step whose data they read."""

    def __init__(
        self,
        workspace: Any,
        steps: list[Any],
        description: str | None = None,
        default_source_directory: str | None = None,
        continue_on_step_failure: bool | None = None,
        **_ignored: Any,
    ) -> None:
        if not steps:
            raise InvalidSpec("Pipeline(steps=[]) has no step", "list the pipeline's steps", field="steps")
        self.workspace = workspace
        self.steps = list(steps)
        self.description = description
        self.default_source_directory = default_source_directory
        self.continue_on_step_failure = continue_on_step_failure

    def all_steps(self) -> list[PipelineStep]:
        """The steps given and, before them, the steps whose outputs they read (as Azure ML adds them)."""
        seen: dict[int, PipelineStep] = {}

        def visit(step: Any) -> None:
            if not isinstance(step, PipelineStep):
                raise InvalidSpec(
                    f"Pipeline(steps=...) holds {step!r}",
                    "list PythonScriptStep or CommandStep objects",
                    field="steps",
                )
            if id(step) in seen:
                return
            seen[id(step)] = step
            for up in step.upstream():
                visit(up)

        for step in self.steps:
            visit(step)
        return list(seen.values())

    def to_dict(self, experiment_name: str | None = None) -> dict[str, Any]:
        """The pipeline YAML's mapping."""
        steps = self.all_steps()
        keys: dict[int, str] = {}
        for step in steps:
            base = step_key(step.name or "step")
            key, n = base, 1
            while key in keys.values():
                n += 1
                key = f"{base}_{n}"
            keys[id(step)] = key
        parameters: dict[str, Any] = {}
        jobs = {}
        for step in steps:
            if self.default_source_directory and not step.source_directory:
                step.source_directory = self.default_source_directory
            jobs[keys[id(step)]] = step.to_yaml(self.workspace, parameters, keys)
        doc: dict[str, Any] = {"type": "pipeline"}
        if experiment_name:
            doc["experiment_name"] = experiment_name
        if self.description:
            doc["description"] = self.description
        if parameters:
            doc["inputs"] = parameters
        if self.continue_on_step_failure is not None:
            doc["settings"] = {"continue_on_step_failure": bool(self.continue_on_step_failure)}
        doc["jobs"] = jobs
        return doc

    def validate(self) -> list[str]:
        """Load it as the engine would; raise its error if it is wrong. Returns [] (no warnings)."""
        from engine.specs.pipeline import load_pipeline

        load_pipeline(self.to_dict("validate"), Path.cwd(), source=None)
        return []

    def submit(self, experiment_name: str, **_ignored: Any) -> PipelineRun:
        return self.submit_to(Experiment(self.workspace, experiment_name), None)

    def submit_to(self, experiment: Experiment, tags: dict[str, Any] | None) -> PipelineRun:
        """`Experiment.submit(pipeline)`: start it and return its PipelineRun."""
        from engine.specs.pipeline import load_pipeline  # pydantic: only when submitting

        data = self.to_dict(experiment.name)
        if tags:
            data["tags"] = dict(tags)
        spec = load_pipeline(data, Path.cwd(), source=None)
        run = experiment.workspace.engine.submit_pipeline(spec)
        return PipelineRun(experiment, run.name)
