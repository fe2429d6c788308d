"""The Azure ML CLI v2 command-job and sweep-job schemas (what Trainyard accepts), validated with pydantic."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


Scalar = StrictBool | StrictInt | StrictFloat | StrictStr


class CodeSpec(_Strict):
    local_path: StrictStr


class InputSpec(_Strict):
    type: Literal["uri_file", "uri_folder", "string", "integer", "number", "boolean",
                  "mlflow_model", "custom_model", "mltable"] = "uri_folder"
    path: StrictStr | None = None
    mode: Literal["ro_mount", "rw_mount", "download", "direct"] | None = None
    default: Scalar | None = None
    value: Scalar | None = None
    description: StrictStr | None = None


class OutputSpec(_Strict):
    type: Literal["uri_file", "uri_folder", "mlflow_model", "custom_model"] = "uri_folder"
    path: StrictStr | None = None
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    description: StrictStr | None = None


class PythonSpec(_Strict):
    interpreter_path: StrictStr | None = None
    user_managed_dependencies: StrictBool | None = None


class BuildSpec(_Strict):
    path: StrictStr
    dockerfile_path: StrictStr | None = None


class InlineEnvironment(_Strict):
    name: StrictStr | None = None
    version: StrictStr | StrictInt | None = None
    description: StrictStr | None = None
    image: StrictStr | None = None
    conda_file: StrictStr | None = None
    build: BuildSpec | None = None
    pip_requirements: StrictStr | None = None
    environment_variables: dict[StrictStr, Scalar] | None = None
    python: PythonSpec | None = None


class Resources(_Strict):
    instance_count: StrictInt = 1
    instance_type: StrictStr | None = None
    shm_size: StrictStr | None = None
    gpus: StrictInt | StrictStr | None = None  # Trainyard extension: a number, "all" or "device=0,1"


class Distribution(_Strict):
    type: Literal["pytorch", "mpi", "tensorflow"]
    process_count_per_instance: StrictInt | None = None


class CommandLimits(_Strict):
    timeout: StrictInt | StrictFloat | None = None


class CommandJobSchema(_Strict):
    schema_: StrictStr | None = Field(default=None, alias="$schema")
    type: Literal["command"] = "command"
    name: StrictStr | None = None
    display_name: StrictStr | None = None
    experiment_name: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    code: StrictStr | CodeSpec | None = None
    command: StrictStr
    inputs: dict[StrictStr, Scalar | InputSpec] = Field(default_factory=dict)
    outputs: dict[StrictStr, OutputSpec | None] = Field(default_factory=dict)
    environment: StrictStr | InlineEnvironment | None = None
    environment_variables: dict[StrictStr, Scalar] = Field(default_factory=dict)
    compute: StrictStr | None = None
    resources: Resources | None = None
    distribution: Distribution | None = None
    limits: CommandLimits | None = None
    properties: dict[StrictStr, Any] = Field(default_factory=dict)


KNOWN_KEYS = tuple(f.alias or n for n, f in CommandJobSchema.model_fields.items())


# ---- sweep jobs: `trial:` is a command job without the sweep-level keys ----------------------------
class TrialSpec(_Strict):
    code: StrictStr | CodeSpec | None = None
    command: StrictStr
    environment: StrictStr | InlineEnvironment | None = None
    environment_variables: dict[StrictStr, Scalar] = Field(default_factory=dict)
    resources: Resources | None = None
    distribution: Distribution | None = None


class Objective(_Strict):
    goal: Literal["minimize", "maximize"]
    primary_metric: StrictStr


class SamplingAlgorithm(_Strict):
    type: Literal["random", "grid", "bayesian"]
    seed: StrictInt | None = None
    rule: Literal["random", "sobol"] | None = None  # Azure's random rule; sobol is drawn as random


class SweepLimits(_Strict):
    max_total_trials: StrictInt | None = None
    max_concurrent_trials: StrictInt | None = None
    timeout: StrictInt | StrictFloat | None = None  # seconds, the whole sweep
    trial_timeout: StrictInt | StrictFloat | None = None  # seconds, each trial


class SweepJobSchema(_Strict):
    schema_: StrictStr | None = Field(default=None, alias="$schema")
    type: Literal["sweep"]
    name: StrictStr | None = None
    display_name: StrictStr | None = None
    experiment_name: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    properties: dict[StrictStr, Any] = Field(default_factory=dict)
    trial: TrialSpec
    inputs: dict[StrictStr, Scalar | InputSpec] = Field(default_factory=dict)
    outputs: dict[StrictStr, OutputSpec | None] = Field(default_factory=dict)
    compute: StrictStr | None = None
    sampling_algorithm: Literal["random", "grid", "bayesian"] | SamplingAlgorithm = "random"
    # Checked key by key by engine.sweeps.space / engine.sweeps.termination (with their own messages).
    search_space: dict[StrictStr, Any]
    objective: Objective
    limits: SweepLimits | None = None
    early_termination: dict[StrictStr, Any] | None = None
