"""Submitting a pipeline built in Python (or a pipeline YAML file) from a script: it is loaded and
checked exactly as `trainyard job create -f pipeline.yml` loads it, then started."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec


def _workspace(workspace: Any) -> Any:
    from engine.sdk.workspace import Workspace

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
    from engine.sdk.experiment import Experiment
    from engine.sdk.pipelinerun import PipelineRun
    from engine.sdk.v2.pipeline import PipelineJob
    from engine.specs.pipeline import load_pipeline, load_pipeline_file  # pydantic: only when submitting

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
