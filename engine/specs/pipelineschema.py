"""What Trainyard accepts in pipeline job and command component YAML (Azure ML CLI v2's
`pipelineJob` and `commandComponent` schemas), as pydantic models; engine.specs.pipeline and
engine.specs.component read them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictStr

from engine.specs.schema import (
    CodeSpec,
    CommandLimits,
    Distribution,
    InlineEnvironment,
    InputSpec,
    Objective,
    OutputSpec,
    Resources,
    SamplingAlgorithm,
    Scalar,
    SchemaKey,
    Strict,
    SweepLimits,
    TrialSpec,
)


class ComponentYamlSchema(SchemaKey):
    """`trainyard component create -f component.yml`, or a step's inline `component:`."""

    type: Literal["command"] = "command"
    name: StrictStr | None = None
    version: StrictStr | int | None = None
    display_name: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    is_deterministic: StrictBool | None = None
    inputs: dict[StrictStr, InputSpec] = Field(default_factory=dict)
    outputs: dict[StrictStr, OutputSpec | None] = Field(default_factory=dict)
    code: StrictStr | CodeSpec | None = None
    environment: StrictStr | InlineEnvironment | None = None
    environment_variables: dict[StrictStr, Scalar] = Field(default_factory=dict)
    command: StrictStr
    resources: Resources | None = None
    distribution: Distribution | None = None


class CommandStepSchema(Strict):
    """A `type: command` step under `jobs:`: inline (`command:`) or from a component."""

    type: Literal["command"] = "command"
    component: StrictStr | ComponentYamlSchema | None = None
    name: StrictStr | None = None
    display_name: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    properties: dict[StrictStr, Any] = Field(default_factory=dict)
    code: StrictStr | CodeSpec | None = None
    command: StrictStr | None = None
    inputs: dict[StrictStr, Scalar | InputSpec] = Field(default_factory=dict)
    outputs: dict[StrictStr, StrictStr | OutputSpec | None] = Field(default_factory=dict)
    environment: StrictStr | InlineEnvironment | None = None
    environment_variables: dict[StrictStr, Scalar] = Field(default_factory=dict)
    compute: StrictStr | None = None
    resources: Resources | None = None
    distribution: Distribution | None = None
    limits: CommandLimits | None = None
    is_deterministic: StrictBool | None = None


class SweepStepSchema(Strict):
    """A `type: sweep` step: its `trial:` is inline or a component file."""

    type: Literal["sweep"]
    name: StrictStr | None = None
    display_name: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    trial: StrictStr | TrialSpec
    inputs: dict[StrictStr, Scalar | InputSpec] = Field(default_factory=dict)
    outputs: dict[StrictStr, StrictStr | OutputSpec | None] = Field(default_factory=dict)
    compute: StrictStr | None = None
    resources: Resources | None = None  # every trial's; over a trial component's, key by key
    sampling_algorithm: Literal["random", "grid", "bayesian"] | SamplingAlgorithm = "random"
    search_space: dict[StrictStr, Any]
    objective: Objective
    limits: SweepLimits | None = None
    early_termination: dict[StrictStr, Any] | None = None
    is_deterministic: StrictBool | None = None


class PipelineSettingsSchema(Strict):
    default_compute: StrictStr | None = None
    default_datastore: StrictStr | None = None
    continue_on_step_failure: StrictBool | None = None
    force_rerun: StrictBool | None = None


class PipelineJobSchema(SchemaKey):
    """`type: pipeline`: the steps under `jobs:` are checked one by one (their own schemas)."""

    type: Literal["pipeline"]
    name: StrictStr | None = None
    display_name: StrictStr | None = None
    experiment_name: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    properties: dict[StrictStr, Any] = Field(default_factory=dict)
    inputs: dict[StrictStr, Scalar | InputSpec] = Field(default_factory=dict)
    outputs: dict[StrictStr, OutputSpec | None] = Field(default_factory=dict)
    settings: PipelineSettingsSchema | None = None
    compute: StrictStr | None = None  # the steps' default compute, as settings.default_compute
    jobs: dict[StrictStr, dict[StrictStr, Any]]
