"""Frozen, plain-Python views of what the store holds (runs, metrics, models, environments, compute
targets). ORM rows never leave the store."""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.errors import NotFound

# The run lifecycle of DESIGN.md, in order.
RUN_STATUSES = (
    "NotStarted",
    "Queued",
    "Preparing",
    "Starting",
    "Running",
    "Finalizing",
    "Completed",
    "Failed",
    "Canceled",
)
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
ACTIVE_STATUSES = frozenset(RUN_STATUSES) - TERMINAL_STATUSES
# The error of a run (or sweep) the user canceled; a cancel with a reason records that instead.
USER_CANCEL = "canceled by the user"


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO 8601 with time zone (UTC), or None."""
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, tz=_dt.UTC).isoformat()


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    created_at: float
    run_count: int = 0


@dataclass(frozen=True)
class StatusEvent:
    status: str
    time: float


@dataclass(frozen=True)
class Run:
    """One execution (a job)."""

    name: str
    experiment_name: str
    display_name: str
    status: str
    created_at: float
    run_dir: str
    description: str = ""
    command: str | None = None
    arguments: tuple[str, ...] = ()
    start_time: float | None = None
    end_time: float | None = None
    compute: str = "local"
    environment: str | None = None
    snapshot_id: str | None = None
    git: dict[str, Any] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    error: str | None = None
    max_run_duration_seconds: float | None = None
    status_history: tuple[StatusEvent, ...] = ()
    cancel_requested: bool = False
    supervisor_pid: int | None = None
    parent_name: str | None = None  # the run that submitted this one as a child

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def duration(self) -> float | None:
        if self.start_time is None:
            return None
        import time

        return (self.end_time or time.time()) - self.start_time


@dataclass(frozen=True)
class MetricSummary:
    """Latest value and aggregates of one metric key of one run."""

    key: str
    kind: str  # scalar | list | row | table | image
    count: int
    last_value: Any
    last_step: int | None
    last_timestamp: float | None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class MetricHistory:
    """Every point of one scalar metric, as parallel arrays (fast for millions of points)."""

    key: str
    steps: Any  # numpy int64 array
    values: Any  # numpy float64 array
    timestamps: Any  # numpy float64 array

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> list[dict[str, Any]]:
        return [
            {"key": self.key, "step": int(s), "value": float(v), "timestamp": iso(float(t))}
            for s, v, t in zip(self.steps.tolist(), self.values.tolist(), self.timestamps.tolist())
        ]


@dataclass(frozen=True)
class MetricObject:
    """A non-scalar logged value: list, row, table or image."""

    key: str
    kind: str
    value: Any
    step: int
    timestamp: float
    description: str | None = None


@dataclass(frozen=True)
class Model:
    name: str
    version: int
    path: str  # where the registered copy lives in the workspace
    created_at: float
    run_name: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None


@dataclass(frozen=True)
class DataAsset:
    name: str
    version: int
    path: str  # the workspace's copy (or, with copied=False, the user's path or URL as given)
    created_at: float
    description: str = ""
    kind: str = "uri_folder"  # uri_file | uri_folder | mltable
    tags: dict[str, Any] = field(default_factory=dict)
    content_hash: str | None = None  # sha256 over the files' paths and contents (engine.data.content)
    size: int | None = None  # bytes
    file_count: int | None = None
    run_name: str | None = None  # the run whose output it is
    archived: bool = False
    copied: bool = True  # False: `--no-copy`, a reference to source_path checked by content_hash
    source_path: str | None = None


# Lineage: what a run consumed (direction "input") or produced ("output").
RUN_DATA_DIRECTIONS = ("input", "output")


@dataclass(frozen=True)
class RunData:
    """One input or output of a run, as the run used it: the exact asset version (if it was
    one) and the content hash, so a later change to the asset or the folder is visible."""

    run_name: str
    direction: str  # input | output
    name: str  # the job's input/output name
    type: str  # uri_file, uri_folder, mltable, custom_model, ...
    mode: str
    path: str  # where it came from (inputs) or where it was collected in the run (outputs)
    asset_kind: str | None = None  # "data" | "model" when an asset was consumed or registered
    asset_name: str | None = None
    asset_version: int | None = None
    content_hash: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    source: str
    file_count: int
    total_bytes: int
    created_at: float
    git: dict[str, Any] | None = None


# Compute targets: the built-in names (never stored) and the kinds a registered target can be.
BUILTIN_COMPUTE = ("local", "docker")
COMPUTE_TYPES = ("local", "docker", "ssh", "slurm")


@dataclass(frozen=True)
class ComputeTarget:
    """Where a run goes. ``type`` says how it runs (``local``: a process here, or the local Docker
    daemon when the environment is an image; ``docker``: always the local Docker daemon; ``ssh``:
    another machine); ``config`` holds the type's settings (docker: ``network``, ``gpus``,
    ``image``; ssh: ``host``, ``port``, ``user``, ``key_file``, ``docker``; any:
    ``max_concurrent_runs``). Built-in targets (``local``, ``docker``) have no creation time."""

    name: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    created_at: float | None = None
    builtin: bool = False


@dataclass(frozen=True)
class EnvironmentSpec:
    """A resolved environment, whatever it came from (YAML, SDK, curated, inline job).

    A spec is normalised (file contents read in, lists sorted where order does not matter) so that
    its hash identifies a build: two runs whose specs hash the same share one cached build.

    Exactly one build kind applies (see `kind`):
    - user-managed: run with `interpreter_path` (or Trainyard's own interpreter), nothing built;
    - venv: `pip_requirements` only, built with uv;
    - conda: `conda` (the parsed conda YAML: channels, dependencies incl. a `pip:` section);
    - docker: `image` (base image) plus optional conda/pip on top, or `build_context`.
    """

    name: str
    version: int | None = None
    description: str = ""
    image: str | None = None
    build_context: str | None = None  # absolute path of a folder with a Dockerfile
    dockerfile: str = "Dockerfile"  # relative to build_context
    conda: dict[str, Any] | None = None  # parsed conda YAML: {name, channels, dependencies}
    conda_source: str | None = None  # the file it came from, for messages
    pip_requirements: tuple[str, ...] | None = None  # requirement lines, comments stripped
    pip_source: str | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    user_managed: bool = False
    interpreter_path: str | None = None
    curated: bool = False

    @property
    def kind(self) -> str:
        if self.image or self.build_context:
            return "docker"
        if self.user_managed or (self.conda is None and self.pip_requirements is None):
            return "user"
        if self.conda is not None:
            return "conda"
        return "venv"

    @property
    def needs_docker(self) -> bool:
        return self.kind == "docker"

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}" if self.version is not None else self.name

    def build_inputs(self) -> dict[str, Any]:
        """What determines the built result (not names, versions or descriptions)."""
        return {
            "kind": self.kind,
            "image": self.image,
            "build_context": self.build_context,
            "dockerfile": self.dockerfile if self.build_context else None,
            "conda": self.conda,
            "pip": list(self.pip_requirements) if self.pip_requirements is not None else None,
            "interpreter": self.interpreter_path,
        }

    def build_hash(self, extra: dict[str, Any] | None = None) -> str:
        """sha256 of the normalised build inputs + platform (+ e.g. a build context's content hash)."""
        payload = {**self.build_inputs(), "platform": f"{platform.system()}-{platform.machine()}",
                   **(extra or {})}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pip_requirements"] = list(self.pip_requirements) if self.pip_requirements is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnvironmentSpec:
        d = dict(d)
        if d.get("pip_requirements") is not None:
            d["pip_requirements"] = tuple(d["pip_requirements"])
        return cls(**d)


def builtin_compute_target(name: str) -> ComputeTarget:
    """The built-in target `name` (one of BUILTIN_COMPUTE)."""
    if name == "local":
        return ComputeTarget("local", "local", {}, "a process on this machine (or the local Docker daemon "
                             "when the environment is an image)", builtin=True)
    return ComputeTarget("docker", "docker", {"network": "host"}, "a container in the local Docker daemon",
                         builtin=True)


def unknown_compute(name: str, registered: Sequence[str], source: str | None = None) -> NotFound:
    """The error for a compute name that is neither built in nor registered; lists the known ones."""
    known = [*BUILTIN_COMPUTE, *registered]
    close = difflib.get_close_matches(name, known, n=3)
    hint = (f"did you mean {', '.join(close)}? " if close else "") + (
        f"known compute targets: {', '.join(known)} (`compute: local` runs a process here, "
        "`compute: docker` uses the local Docker daemon); add others with `trainyard compute create`")
    if source and source.endswith((".yml", ".yaml")):
        hint += "; or run this file here unchanged with `--set compute=local`"
    return NotFound(f"unknown compute target {name!r}" + (f" (in {source})" if source else ""), hint)


@dataclass(frozen=True)
class StepState:
    """One step of a pipeline run as it stands: its child run (None before it starts, or when it
    never will), its status, and the run whose outputs it reused."""

    name: str
    run_name: str | None
    status: str
    started_at: float | None = None
    ended_at: float | None = None
    reused_from: str | None = None
    kind: str = "command"
    display_name: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PipelineGraph:
    """A pipeline run's steps and the data between them: edges are (from_step, output_name,
    to_step, input_name)."""

    run_name: str
    status: str
    steps: tuple[StepState, ...]
    edges: tuple[tuple[str, str, str, str], ...]

    def step(self, name: str) -> StepState:
        for s in self.steps:
            if s.name == name:
                return s
        raise NotFound(f"pipeline {self.run_name!r} has no step {name!r}",
                       f"its steps: {', '.join(s.name for s in self.steps)}")
