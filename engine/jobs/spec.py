"""A resolved, validated description of one job, whatever it came from (YAML, SDK, studio)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.runtime.distribution import Distribution

_SHM_SIZE = re.compile(r"(\d+)([bkmg]?)b?", re.IGNORECASE)
SHM_SIZE_HINT = 'a size as Docker writes it, e.g. "2g", "512m" or "1073741824" (bytes)'


def check_shm_size(value: object) -> str:
    """`value` as Docker's size form ("2g"); ValueError says what is wrong (the caller names the field)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    m = _SHM_SIZE.fullmatch(text)
    if m is None or int(m.group(1)) == 0:
        raise ValueError(f"{value!r} is not a size")
    return m.group(1) + m.group(2).lower()


DATA_INPUT_TYPES = ("uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model")
MODEL_TYPES = ("custom_model", "mlflow_model", "triton_model")
LITERAL_TYPES = ("string", "integer", "number", "boolean")
INPUT_MODES = ("ro_mount", "download", "direct")
OUTPUT_TYPES = ("uri_file", "uri_folder", "mlflow_model", "custom_model")
OUTPUT_MODES = ("rw_mount", "upload")


@dataclass(frozen=True)
class DataInput:
    """A job's file, folder or model input (Azure ML's `inputs:` with a `path:`), as written:
    `path` is an absolute local path, `azureml:NAME:VERSION`, `azureml:NAME@latest` or an
    http(s) URL; the engine resolves it at submit (engine.data.resolve)."""

    type: str  # DATA_INPUT_TYPES
    path: str
    mode: str = "ro_mount"  # INPUT_MODES

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "path": self.path, "mode": self.mode}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataInput:
        return cls(str(data["type"]), str(data["path"]), str(data.get("mode") or "ro_mount"))


@dataclass(frozen=True)
class DataOutput:
    """A job's output: an empty folder (or a file path) the script writes, collected into the
    run at `path` (relative to the run folder, default `outputs/NAME`); with `asset_name` it is
    registered when the run completes (a data asset, or a model for the model types)."""

    type: str = "uri_folder"  # OUTPUT_TYPES
    mode: str = "rw_mount"  # OUTPUT_MODES
    path: str | None = None
    asset_name: str | None = None
    asset_version: int | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "mode": self.mode, "path": self.path, "asset_name": self.asset_name,
                "asset_version": self.asset_version, "description": self.description}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataOutput:
        version = data.get("asset_version")
        return cls(str(data.get("type") or "uri_folder"), str(data.get("mode") or "rw_mount"), data.get("path"),
                   data.get("asset_name"), int(version) if version is not None else None,
                   str(data.get("description") or ""))


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
    # /dev/shm of a run in a container (`resources.shm_size`, DockerConfiguration(shm_size=...)):
    # Docker's size form ("2g", "512m", bytes); None gives Azure ML's default, 2g.
    shm_size: str | None = None
    # The run this one is a child of (`Run.submit_child`, sweeps); it must exist in the workspace.
    parent_run: str | None = None
    # A sweep trial's hyperparameters: what `${{search_space.NAME}}` in `command` stands for.
    search_space: dict[str, Any] | None = None
    # Several processes: `distribution:` + `instance_count`.
    distribution: Distribution | None = None
    # `resources.instance_type` (an Azure VM size): without `gpus`, the run asks for the GPUs one
    # such VM has, as far as this machine has them.
    instance_type: str | None = None
    # File/folder/model inputs (`inputs` keeps the literals) and outputs, by name.
    data_inputs: dict[str, DataInput] = field(default_factory=dict)
    outputs: dict[str, DataOutput] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepSpec:
    """A sweep job: trials of one command job, each with hyperparameters drawn from a search space,
    run as child runs of the sweep's own run (Azure ML CLI v2 `type: sweep`).

    `trial` is the command job every trial runs (its `command` refers to `${{search_space.NAME}}`);
    it also carries what the sweep run itself is named and filed under (experiment, tags, ...).
    `search_space` maps names to engine.specs.search_space.Parameter; `early_termination` is an
    engine.specs.early_termination.Policy or None.
    """

    trial: JobSpec
    search_space: dict[str, Any]
    primary_metric: str
    goal: str = "minimize"  # or "maximize"
    sampling_algorithm: str = "random"  # random | grid | bayesian
    seed: int | None = None
    max_total_trials: int = 20
    max_concurrent_trials: int = 4
    timeout_seconds: float | None = None  # the whole sweep
    trial_timeout_seconds: float | None = None
    early_termination: Any = None
    name: str | None = None

    # What describes a job to a person (the submit dialog, messages) is the trial's.
    @property
    def experiment_name(self) -> str:
        return self.trial.experiment_name

    @property
    def code_dir(self) -> Path | None:
        return self.trial.code_dir

    @property
    def compute(self) -> str:
        return self.trial.compute

    @property
    def source_file(self) -> str | None:
        return self.trial.source_file
