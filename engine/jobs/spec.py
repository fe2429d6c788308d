"""A resolved, validated description of one job, whatever it came from (YAML, SDK, studio)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.environments.spec import EnvironmentSpec


@dataclass(frozen=True)
class JobSpec:
    """What to run.

    Exactly one of `command` (a POSIX shell command line, as in Azure ML command jobs) or
    `script` (+ `arguments`, an argv list never passed through a shell, as in ScriptRunConfig).
    """

    experiment_name: str
    code_dir: Path | None = None
    command: str | None = None
    script: str | None = None
    arguments: tuple[str, ...] = ()
    name: str | None = None
    display_name: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    environment_variables: dict[str, str] = field(default_factory=dict)
    compute: str = "local"
    environment: str | None = None  # registered NAME:VERSION, for the record
    interpreter_path: str | None = None  # user-managed interpreter; None = Trainyard's own
    max_run_duration_seconds: float | None = None
    source_file: str | None = None  # the YAML or control script it came from, for messages
    properties: dict[str, Any] = field(default_factory=dict)
    # The environment to build and run in (inline or SDK); None with `environment` set means a
    # reference (NAME:VERSION, azureml:NAME@latest, ...) that the engine resolves at submit.
    environment_spec: EnvironmentSpec | None = None
    # GPUs for a run in a container (`resources.gpus`, a Trainyard extension): a number, -1 for all,
    # or "device=0,1"; None leaves it to the compute target. Overrides the target's `gpus`.
    gpus: int | str | None = None
    # The run this one is a child of (`Run.submit_child`, sweeps); it must exist in the workspace.
    parent_run: str | None = None
