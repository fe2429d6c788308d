"""What Trainyard accepts in its YAML files, as pydantic models: the Azure ML CLI v2 command-job and
sweep-job schemas, the environment YAML (also a job's inline `environment:`) and the compute YAML."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr


class Strict(BaseModel):
    """Unknown keys and wrong types are errors (with file:line, see engine.specs.explain)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, defer_build=True)


Scalar = StrictBool | StrictInt | StrictFloat | StrictStr


class SchemaKey(Strict):
    """The `$schema:` line Azure ML files start with (accepted, not used)."""

    schema_: StrictStr | None = Field(default=None, alias="$schema")


# ---- environments -------------------------------------------------------------------------------
class PythonSpec(Strict):
    interpreter_path: StrictStr | None = None
    user_managed_dependencies: StrictBool | None = None


class BuildSpec(Strict):
    path: StrictStr
    dockerfile_path: StrictStr | None = None


class InlineEnvironment(Strict):
    """A job's inline `environment:` mapping (the az ml schema plus `pip_requirements`)."""

    name: StrictStr | None = None
    version: StrictStr | StrictInt | None = None
    description: StrictStr | None = None
    image: StrictStr | None = None
    conda_file: StrictStr | None = None
    build: BuildSpec | None = None
    pip_requirements: StrictStr | None = None
    environment_variables: dict[StrictStr, Scalar] | None = None
    python: PythonSpec | None = None


class EnvironmentYamlSchema(InlineEnvironment, SchemaKey):
    """`trainyard environment create -f env.yml`: an inline environment that may start with
    `$schema:` (pydantic puts the last base's fields first, so `$schema` leads the known keys)."""


ENVIRONMENT_KEYS = tuple(f.alias or n for n, f in EnvironmentYamlSchema.model_fields.items())


# ---- command jobs ---------------------------------------------------------------------------------
class CodeSpec(Strict):
    local_path: StrictStr


class InputSpec(Strict):
    type: Literal["uri_file", "uri_folder", "string", "integer", "number", "boolean",
                  "mlflow_model", "custom_model", "triton_model", "mltable"] = "uri_folder"
    path: StrictStr | None = None
    mode: Literal["ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download"] | None = None
    default: Scalar | None = None
    value: Scalar | None = None
    optional: StrictBool | None = None
    description: StrictStr | None = None
    # Accepted, not used (as in a component's inputs).
    min: StrictInt | StrictFloat | None = None
    max: StrictInt | StrictFloat | None = None
    enum: list[Scalar] | None = None


class OutputSpec(Strict):
    type: Literal["uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable", "triton_model"] = "uri_folder"
    path: StrictStr | None = None
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    name: StrictStr | None = None  # register the output under this name when the run completes
    version: StrictStr | StrictInt | None = None
    description: StrictStr | None = None


class Resources(Strict):
    instance_count: StrictInt = 1
    instance_type: StrictStr | None = None
    shm_size: StrictStr | None = None
    gpus: StrictInt | StrictStr | None = None  # Trainyard extension: a number, "all" or "device=0,1"


class Distribution(Strict):
    type: Literal["pytorch", "mpi", "tensorflow"]
    process_count_per_instance: StrictInt | None = None
    worker_count: StrictInt | None = None  # tensorflow
    parameter_server_count: StrictInt | None = None  # tensorflow


class CommandLimits(Strict):
    timeout: StrictInt | StrictFloat | None = None


class CommandJobSchema(SchemaKey):
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



# ---- sweep jobs: `trial:` is a command job without the sweep-level keys ----------------------------
class TrialSpec(Strict):
    code: StrictStr | CodeSpec | None = None
    command: StrictStr
    environment: StrictStr | InlineEnvironment | None = None
    environment_variables: dict[StrictStr, Scalar] = Field(default_factory=dict)
    resources: Resources | None = None
    distribution: Distribution | None = None


class Objective(Strict):
    goal: Literal["minimize", "maximize"]
    primary_metric: StrictStr


class SamplingAlgorithm(Strict):
    type: Literal["random", "grid", "bayesian"]
    seed: StrictInt | None = None
    rule: Literal["random", "sobol"] | None = None  # Azure's random rule; sobol is drawn as random


class SweepLimits(Strict):
    max_total_trials: StrictInt | None = None
    max_concurrent_trials: StrictInt | None = None
    timeout: StrictInt | StrictFloat | None = None  # seconds, the whole sweep
    trial_timeout: StrictInt | StrictFloat | None = None  # seconds, each trial


class SweepJobSchema(SchemaKey):
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
    resources: Resources | None = None  # every trial's (Azure's SweepJob.resources); trial.resources wins
    sampling_algorithm: Literal["random", "grid", "bayesian"] | SamplingAlgorithm = "random"
    # Checked key by key by engine.specs.search_space / engine.specs.early_termination (their own messages).
    search_space: dict[StrictStr, Any]
    objective: Objective
    limits: SweepLimits | None = None
    early_termination: dict[StrictStr, Any] | None = None


# ---- data assets: `trainyard data create -f data.yml` (az ml data schema) -----------------------------
class DataYamlSchema(SchemaKey):
    name: StrictStr
    version: StrictStr | StrictInt | None = None
    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: StrictStr
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)


# ---- compute targets ------------------------------------------------------------------------------
class ComputeYamlSchema(SchemaKey):
    """`trainyard compute create -f compute.yml`."""

    name: StrictStr
    type: Literal["local", "docker", "ssh", "slurm"]
    description: StrictStr | None = None
    network: StrictStr | None = None
    gpus: StrictInt | StrictStr | None = None
    image: StrictStr | None = None
    host: StrictStr | None = None
    port: StrictInt | None = None
    user: StrictStr | None = None
    key_file: StrictStr | None = None
    known_hosts: StrictStr | None = None
    work_dir: StrictStr | None = None
    cache_dir: StrictStr | None = None
    hosts: list[StrictStr] | None = None
    keep_remote_files: StrictBool | None = None
    docker: StrictBool | None = None
    max_concurrent_runs: StrictInt | None = None
    # slurm (engine.compute.slurm.target)
    local: StrictBool | None = None
    partition: StrictStr | None = None
    account: StrictStr | None = None
    qos: StrictStr | None = None
    time_limit: StrictStr | StrictInt | None = None
    gpu_request: StrictStr | None = None
    sbatch: list[StrictStr] | None = None
    mpi: StrictStr | None = None


COMPUTE_KEYS = tuple(f.alias or n for n, f in ComputeYamlSchema.model_fields.items())
