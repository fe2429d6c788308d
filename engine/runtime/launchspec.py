"""The launch spec: a run folder's spec.json, what the process that submits a run tells the process
that owns it (engine.entry: a run's supervisor or a sweep's controller).

One typed record, written by engine.runs.submit (submit, sweep submit, rerun) and read by the
supervisor, the sweep controller, the SSH backend and the environment views; nobody reads a key of
the JSON but this module. The JSON keeps the flat layout of earlier versions, so a run folder
made by one of them still reads (re-run, its environment, the environments it keeps in use): keys
it lacks take the defaults below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.errors import InvalidState
from engine.runtime.dataplan import DataPlan
from engine.runtime.distribution import Distribution
from engine.runtime.pipelineplan import PipelinePlan

# A run's property: the folder its code was snapshotted from (the studio's Clone & edit opens it).
CODE_DIR = "code_dir"

__all__ = ["CODE_DIR", "LaunchSpec", "Placement", "SweepSettings", "TrialTemplate", "is_sweep_spec", "launch_kind",
           "read_spec"]


class _Reader:
    """Typed access to one JSON object, naming the file and the key when a value has the wrong type."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidState(f"{where} is not a launch spec (expected a JSON object)",
                               "the run folder was damaged: submit the job again")
        self.data = data
        self.where = where

    def _bad(self, key: str, expected: str) -> InvalidState:
        return InvalidState(f"{self.where}: `{key}` should be {expected}, not {self.data.get(key)!r}",
                            "the run folder was damaged: submit the job again")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    # Not named `str`: in the class body that name would shadow the type in later annotations.
    def string(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def opt_str(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.string(key)

    def opt_number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "a number")
        return value  # an int stays one: messages show it as the user wrote it

    def opt_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "a whole number")
        return value

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "a list of strings")
        return list(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self._bad(key, "a mapping of strings")
        return {str(k): v for k, v in value.items()}

    def opt_object(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._bad(key, "a JSON object")
        return dict(value)

    def distribution(self, key: str) -> Distribution | None:
        value = self.opt_object(key)
        if value is None:
            return None
        try:
            return Distribution.from_dict(value)
        except (KeyError, TypeError, ValueError):
            raise self._bad(key, "a distribution (kind, process_count_per_instance, instance_count, "
                                  "worker_count, parameter_server_count)") from None

    def data_plan(self, key: str) -> DataPlan | None:
        value = self.opt_object(key)
        if value is None:
            return None
        try:
            return DataPlan.from_json(value)
        except (KeyError, TypeError, ValueError):
            raise self._bad(key, "a data plan (inputs, outputs)") from None

    def gpus(self, key: str) -> int | str | None:
        value = self.data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
            raise self._bad(key, "a GPU count or device ids")
        return value


@dataclass(frozen=True)
class Placement:
    """Where a run goes (engine.compute.targets.run_settings makes it from the compute target)."""

    compute: str = "local"  # the target's type: local | docker | ssh | slurm
    compute_target: str | None = None
    max_concurrent_runs: int | None = None
    docker_network: str = "host"
    gpus: int | str | None = None  # the job's request, else the target's
    default_image: str | None = None  # docker: the image of jobs whose environment has none
    ssh: dict[str, Any] | None = None  # ssh: the connection settings (engine.compute.ssh.SshTarget)
    ssh_interpreter: str | None = None  # ssh: the interpreter on the remote
    shm_size: str | None = None  # a container's /dev/shm (Docker's size form); None: Azure's 2g
    slurm: dict[str, Any] | None = None  # slurm: the target's settings (engine.compute.slurm.SlurmTarget)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "compute": self.compute, "compute_target": self.compute_target,
            "max_concurrent_runs": self.max_concurrent_runs, "docker_network": self.docker_network,
            "gpus": self.gpus, "default_image": self.default_image,
        }
        if self.ssh is not None:
            data["ssh"] = self.ssh
        if self.ssh_interpreter is not None:
            data["ssh_interpreter"] = self.ssh_interpreter
        if self.shm_size is not None:
            data["shm_size"] = self.shm_size
        if self.slurm is not None:
            data["slurm"] = self.slurm
        return data

    @classmethod
    def _read(cls, r: _Reader) -> Placement:
        return cls(compute=r.string("compute", "local"), compute_target=r.opt_str("compute_target"),
                   max_concurrent_runs=r.opt_int("max_concurrent_runs"),
                   docker_network=r.string("docker_network", "host") if r.has("docker_network") else "host",
                   gpus=r.gpus("gpus"), default_image=r.opt_str("default_image"), ssh=r.opt_object("ssh"),
                   ssh_interpreter=r.opt_str("ssh_interpreter"), shm_size=r.opt_str("shm_size"),
                   slurm=r.opt_object("slurm"))


@dataclass(frozen=True)
class TrialTemplate:
    """What every trial of a sweep shares (the sweep job's `trial:`); the controller adds the
    trial's name and hyperparameters."""

    experiment_name: str
    command: str | None
    compute: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    environment_variables: dict[str, Any] = field(default_factory=dict)
    environment: str | None = None
    environment_spec: dict[str, Any] | None = None  # EnvironmentSpec.to_dict()
    interpreter_path: str | None = None
    gpus: int | str | None = None
    max_run_duration_seconds: float | None = None
    source_file: str | None = None
    data_inputs: dict[str, Any] = field(default_factory=dict)  # name -> DataInput.to_dict()
    outputs: dict[str, Any] = field(default_factory=dict)  # name -> DataOutput.to_dict()
    shm_size: str | None = None  # each trial's container /dev/shm (`resources.shm_size`)
    distribution: dict[str, Any] | None = None  # each trial's processes (Distribution.to_dict())

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def _read(cls, r: _Reader) -> TrialTemplate:
        return cls(experiment_name=r.string("experiment_name"), command=r.opt_str("command"),
                   compute=r.opt_str("compute"), inputs=r.opt_object("inputs") or {},
                   environment_variables=r.opt_object("environment_variables") or {},
                   environment=r.opt_str("environment"), environment_spec=r.opt_object("environment_spec"),
                   interpreter_path=r.opt_str("interpreter_path"), gpus=r.gpus("gpus"),
                   max_run_duration_seconds=r.opt_number("max_run_duration_seconds"),
                   source_file=r.opt_str("source_file"), data_inputs=r.opt_object("data_inputs") or {},
                   outputs=r.opt_object("outputs") or {}, shm_size=r.opt_str("shm_size"),
                   distribution=r.opt_object("distribution"))


@dataclass(frozen=True)
class SweepSettings:
    """A sweep's search and its limits, as its controller runs them."""

    search_space: dict[str, Any]  # name -> {"type": kind, **args}, as the YAML gives it
    sampling_algorithm: str
    primary_metric: str
    goal: str  # minimize | maximize
    max_total_trials: int
    max_concurrent_trials: int
    trial: TrialTemplate
    seed: int | None = None
    timeout_seconds: float | None = None
    trial_timeout_seconds: float | None = None
    early_termination: dict[str, Any] | None = None  # the policy as YAML would give it

    def settings_json(self) -> dict[str, Any]:
        """Everything but the trial: what the sweep run records as its `sweep` property."""
        return {"search_space": self.search_space, "sampling_algorithm": self.sampling_algorithm,
                "seed": self.seed, "primary_metric": self.primary_metric, "goal": self.goal,
                "max_total_trials": self.max_total_trials, "max_concurrent_trials": self.max_concurrent_trials,
                "timeout_seconds": self.timeout_seconds, "trial_timeout_seconds": self.trial_timeout_seconds,
                "early_termination": self.early_termination}

    def to_json(self) -> dict[str, Any]:
        return {**self.settings_json(), "trial": self.trial.to_json()}

    @classmethod
    def _read(cls, r: _Reader) -> SweepSettings:
        trial = r.opt_object("trial")
        if trial is None:
            raise r._bad("trial", "a JSON object")
        search_space = r.opt_object("search_space")
        if search_space is None:
            raise r._bad("search_space", "a JSON object")
        max_total, max_concurrent = r.opt_int("max_total_trials"), r.opt_int("max_concurrent_trials")
        if max_total is None or max_concurrent is None:
            raise r._bad("max_total_trials" if max_total is None else "max_concurrent_trials", "a whole number")
        return cls(search_space=search_space, sampling_algorithm=r.string("sampling_algorithm"),
                   primary_metric=r.string("primary_metric"), goal=r.string("goal"),
                   max_total_trials=max_total, max_concurrent_trials=max_concurrent,
                   trial=TrialTemplate._read(_Reader(trial, f"{r.where} (sweep.trial)")),
                   seed=r.opt_int("seed"), timeout_seconds=r.opt_number("timeout_seconds"),
                   trial_timeout_seconds=r.opt_number("trial_timeout_seconds"),
                   early_termination=r.opt_object("early_termination"))


@dataclass(frozen=True)
class LaunchSpec:
    """One run folder's spec.json. A job's run has `argv`; a sweep's has `sweep` (and `workspace`,
    where its controller submits the trials)."""

    run_name: str
    store_url: str
    snapshots_root: str
    snapshot_id: str | None = None
    # ---- a job's run
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # Prepended to the variables of the same name (os.pathsep-joined): the wrappers, the client.
    env_prepend: dict[str, str] = field(default_factory=dict)
    max_run_duration_seconds: float | None = None
    cancel_grace_seconds: float = 10.0
    placement: Placement = field(default_factory=Placement)
    environment: dict[str, Any] | None = None  # EnvironmentSpec.to_dict(); None: nothing to build
    envs_root: str | None = None
    script: str | None = None
    arguments: list[str] = field(default_factory=list)
    command: str | None = None  # the rendered command (argv is /bin/sh -c COMMAND)
    distribution: Distribution | None = None  # several processes (engine.compute.distributed)
    data: DataPlan | None = None  # inputs and outputs (engine.runtime.dataplan)
    # ---- a sweep's run
    workspace: str | None = None
    sweep: SweepSettings | None = None
    # ---- a pipeline's run (its controller, engine.pipelines.controller, runs the steps)
    pipeline: PipelinePlan | None = None

    @property
    def is_sweep(self) -> bool:
        return self.sweep is not None

    @property
    def kind(self) -> str:
        """What owns the run folder: "job" (a supervisor), "sweep" or "pipeline" (their controllers)."""
        return "sweep" if self.sweep is not None else "pipeline" if self.pipeline is not None else "job"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run_name": self.run_name, "store_url": self.store_url,
                                "snapshots_root": self.snapshots_root, "snapshot_id": self.snapshot_id}
        if self.sweep is not None:
            data.update(workspace=self.workspace, sweep=self.sweep.to_json())
            return data
        if self.pipeline is not None:
            data.update(workspace=self.workspace, pipeline=self.pipeline.to_json())
            return data
        data.update({
            "argv": self.argv, "env": self.env, "env_prepend": self.env_prepend,
            "max_run_duration_seconds": self.max_run_duration_seconds,
            "cancel_grace_seconds": self.cancel_grace_seconds,
            **self.placement.to_json(),
            "environment": self.environment, "envs_root": self.envs_root, "script": self.script,
            "arguments": self.arguments, "command": self.command,
            "distribution": self.distribution.to_dict() if self.distribution is not None else None,
        })
        if self.data is not None:
            data["data"] = self.data.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "spec.json") -> LaunchSpec:
        """Validate `data` (InvalidState names the key that is wrong)."""
        r = _Reader(data, where)
        sweep = r.opt_object("sweep")
        run_name, store_url = r.string("run_name"), r.string("store_url")
        snapshots_root, snapshot_id = r.string("snapshots_root", ""), r.opt_str("snapshot_id")
        if sweep is not None:
            return cls(run_name=run_name, store_url=store_url, snapshots_root=snapshots_root,
                       snapshot_id=snapshot_id, workspace=r.opt_str("workspace"),
                       sweep=SweepSettings._read(_Reader(sweep, f"{where} (sweep)")))
        pipeline = r.opt_object("pipeline")
        if pipeline is not None:
            try:
                plan = PipelinePlan.from_json(pipeline)
            except (KeyError, TypeError, ValueError):
                raise r._bad("pipeline", "a pipeline plan (steps, edges)") from None
            return cls(run_name=run_name, store_url=store_url, snapshots_root=snapshots_root,
                       snapshot_id=snapshot_id, workspace=r.opt_str("workspace"), pipeline=plan)
        grace = r.opt_number("cancel_grace_seconds")
        return cls(run_name=run_name, store_url=store_url, snapshots_root=snapshots_root,
                   snapshot_id=snapshot_id, argv=r.str_list("argv"), env=r.str_map("env"), env_prepend=r.str_map("env_prepend"),
                   max_run_duration_seconds=r.opt_number("max_run_duration_seconds"),
                   cancel_grace_seconds=10.0 if grace is None else grace,
                   placement=Placement._read(r), environment=r.opt_object("environment"),
                   envs_root=r.opt_str("envs_root"), script=r.opt_str("script"),
                   arguments=r.str_list("arguments"), command=r.opt_str("command"),
                   distribution=r.distribution("distribution"), data=r.data_plan("data"))

    def write(self, path: Path) -> None:
        """Write atomically: a reader never sees half a spec."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        os.replace(tmp, path)

    def with_changes(self, **changes: Any) -> LaunchSpec:
        return replace(self, **changes)


def read_spec(path: Path) -> LaunchSpec:
    """The launch spec at `path` (a run folder's spec.json). OSError when it cannot be read,
    InvalidState when it is not valid."""
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise InvalidState(f"{path} is not valid JSON: {exc}",
                           "the run folder was damaged: submit the job again") from exc
    return LaunchSpec.from_json(data, str(path))


def launch_kind(path: Path) -> str:
    """What owns the run folder whose spec.json is at `path`: "job", "sweep" or "pipeline"."""
    return read_spec(path).kind


def is_sweep_spec(path: Path) -> bool:
    """Whether the run folder's spec.json is a sweep's (its process is the sweep controller)."""
    return read_spec(path).is_sweep
