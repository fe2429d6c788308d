"""A `ScriptRunConfig` as the engine's JobSpec (a `HyperDriveConfig` as a SweepSpec), and submitting
it: `Experiment.submit` and `Run.submit_child` both go through here."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.errors import InvalidSpec
from engine.jobs.spec import SHM_SIZE_HINT, JobSpec, SweepSpec, check_shm_size
from engine.runtime.distribution import make_distribution
from engine.sdk.data import DataReference, DatasetConsumptionConfig, FileDataset
from engine.sdk.hyperdrive import HyperDriveConfig
from engine.sdk.runconfig import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
)


def submit_config(engine: Any, experiment: str, config: ScriptRunConfig | HyperDriveConfig,
                  tags: dict[str, Any] | None, parent_run: str | None = None) -> E.Run:
    """Submit `config` in `experiment` (as a child of `parent_run` when given); warnings print,
    and so does a one-line note for what this machine cannot honour (a GPU environment here)."""
    notes: list[str] = []
    if isinstance(config, HyperDriveConfig):
        trial = spec_from_config(experiment, config.run_config, tags or {}, notes)
        spec: JobSpec | SweepSpec = config.to_sweep(trial)
        env = config.run_config.environment
    else:
        job = spec_from_config(experiment, config, tags or {}, notes)
        spec = replace(job, parent_run=parent_run) if parent_run is not None else job
        env = config.environment
    gpu_note = _gpu_note(engine, env)
    for note in [*notes, *([gpu_note] if gpu_note else [])]:
        print(f"Note: {note}", flush=True)
    return engine.submit(spec, on_warning=lambda msg: print(f"Warning: {msg}"))


def spec_from_config(experiment: str, config: ScriptRunConfig, tags: dict[str, Any],
                     notes: list[str] | None = None) -> JobSpec:
    """The JobSpec of `config`; what it cannot honour here is added to `notes`."""
    notes = [] if notes is None else notes
    rc = config.run_config
    target = rc.target
    compute = getattr(target, "name", target) or "local"
    env = rc.environment
    interpreter = None
    env_name = None
    env_spec = None
    env_vars = dict(rc.environment_variables)
    if env is not None:
        env_spec = env.to_spec()
        if env_spec.kind == "user":
            interpreter = env_spec.interpreter_path
        env_name = env_spec.reference
        env_vars.update(env_spec.environment_variables)
    distribution = _distribution(config.distributed_job_config)
    arguments: tuple[str, ...]
    if config.command is not None:
        command = config.command if isinstance(config.command, str) else " ".join(map(str, config.command))
        script, arguments = None, ()
    else:
        if not config.script:
            raise InvalidSpec("ScriptRunConfig needs script= (or command=)", field="script")
        command, script = None, config.script
    inputs: dict[str, Any] = {}
    if config.command is None:
        arguments = tuple(_argument(a, inputs, env_vars) for a in config.arguments)
    shm_size = _docker(rc.docker, env_spec, str(compute), notes)
    return JobSpec(
        experiment_name=experiment,
        code_dir=Path(config.source_directory or "."),
        command=command,
        script=script,
        arguments=arguments,
        tags=tags,
        environment_variables={k: str(v) for k, v in env_vars.items()},
        compute=str(compute),
        environment=env_name,
        interpreter_path=interpreter,
        max_run_duration_seconds=rc.max_run_duration_seconds,
        environment_spec=env_spec,
        distribution=distribution,
        inputs=inputs,
        shm_size=shm_size,
    )


def _argument(value: Any, inputs: dict[str, Any], env_vars: dict[str, Any]) -> str:
    """One argument as the script receives it: a dataset (`as_named_input('x').as_mount()`,
    `ds.as_download()`, `(datastore, path)` references) is its real local path; a named one is
    also the run's input `x` and `$AZUREML_DATAREFERENCE_x`, as in Azure ML."""
    if isinstance(value, DatasetConsumptionConfig):
        inputs[value.name] = value.local_path
        env_vars[f"AZUREML_DATAREFERENCE_{value.name}"] = value.local_path
        return value.local_path
    if isinstance(value, FileDataset):
        return value.path
    if isinstance(value, DataReference):
        return str(value.local_path)
    return str(value)


def _docker(docker: DockerConfiguration | None, env: Any, compute: str, notes: list[str]) -> str | None:
    """`DockerConfiguration` / `run_config.docker` -> the run's /dev/shm size; a note for what is
    not honoured here (a container needs an environment image or the `docker` compute)."""
    if docker is None:
        return None
    in_container = compute == "docker" or (env is not None and env.needs_docker)
    if docker.use_docker and not in_container:
        notes.append("DockerConfiguration(use_docker=True): the environment names no image, so the run is a "
                     "process on this machine; set env.docker.base_image (or compute_target='docker') to run it "
                     "in a container")
    if docker.arguments:
        notes.append(f"DockerConfiguration(arguments={docker.arguments!r}) is not passed to Docker here; "
                     "shm_size is (the other settings come from the environment and the compute target)")
    if docker.shm_size is None:
        return None
    try:
        return check_shm_size(docker.shm_size)
    except ValueError as exc:
        raise InvalidSpec(f"DockerConfiguration(shm_size={docker.shm_size!r}): {exc}", SHM_SIZE_HINT,
                          field="shm_size") from None


def _gpu_note(engine: Any, env: Any) -> str | None:
    """One line when a GPU environment (by its Azure ML name, or a CUDA image) runs on a machine
    without a GPU: the same packages run on the CPU."""
    if env is None:
        return None
    asked = getattr(env, "requested_name", None) or env.name
    image = env.docker.base_image or ""
    gpu_name = re.search(r"gpu|cuda", asked or "", re.IGNORECASE)
    if not (gpu_name or re.search(r"cuda", image, re.IGNORECASE)):
        return None
    if engine.local_gpus().gpus:
        return None
    if gpu_name:
        built = env.name if env.name != asked else "its packages"
        return (f"{asked} is a GPU environment and this machine has no GPU: the run uses {built} on the CPU "
                "(the same PyTorch falls back to the CPU)")
    return f"the image {image} is a CUDA image and this machine has no GPU: the script runs on the CPU"


def _distribution(config: Any) -> Any:
    """PyTorchConfiguration(process_count, node_count) / MpiConfiguration(process_count_per_node,
    node_count) / TensorflowConfiguration(worker_count, parameter_server_count) as the engine's
    Distribution; None for a single process."""
    if config is None:
        return None
    if isinstance(config, TensorflowConfiguration):
        return make_distribution("tensorflow", None, None, worker_count=int(config.worker_count),
                                 parameter_server_count=int(config.parameter_server_count))
    nodes = int(getattr(config, "node_count", 1) or 1)
    if isinstance(config, PyTorchConfiguration):
        total = config.process_count if config.process_count is not None else nodes
        if total % nodes:
            raise InvalidSpec(f"PyTorchConfiguration(process_count={total}, node_count={nodes}): the processes "
                              "must divide evenly among the nodes", "make process_count a multiple of node_count",
                              field="distributed_job_config")
        return make_distribution("pytorch", total // nodes, nodes)
    if isinstance(config, MpiConfiguration):
        return make_distribution("mpi", int(config.process_count_per_node), nodes)
    raise InvalidSpec(f"distributed_job_config {type(config).__name__} is not supported",
                      "use PyTorchConfiguration, MpiConfiguration or TensorflowConfiguration",
                      field="distributed_job_config")
