"""Compute targets: the compute YAML, the names a job can give, and what a run's supervisor needs.

A job names its compute as ``local``, ``docker`` (built in), ``NAME`` or ``azureml:NAME`` (a target
registered with ``trainyard compute create``). ``resolve_compute(store, name)`` turns that into an
``engine.entities.ComputeTarget``; ``run_settings(target)`` into the keys of the run's spec.json
(``compute`` is the target's *type*: the supervisor only knows ``local`` and ``docker``).

Compute YAML (``trainyard compute create -f compute.yml``)::

    name: gpu-box              # referenced as `compute: gpu-box` or `compute: azureml:gpu-box`
    type: docker               # local | docker | ssh | slurm
    description: the box under the desk
    network: host              # docker: host (default) | none | bridge | a network's name
    gpus: all                  # docker: a number, "all", or "device=0,1"
    image: python:3.11-slim    # docker: the image of jobs that have no environment image
    max_concurrent_runs: 2
    # ssh only: host (or an ~/.ssh/config alias), port (22), user, key_file, known_hosts (a file
    # checked besides ~/.ssh/known_hosts), work_dir (~/.trainyard/runs), keep_remote_files (false),
    # docker (false; true: jobs run in containers of the host's Docker daemon)

``type: local`` and ``type: docker`` targets alias names used in existing job files (e.g.
``cpu-cluster``) to this machine. Jobs on ``type: ssh`` targets run as processes on that host,
driven from here by the run's supervisor (engine.compute.ssh). Jobs on ``type: slurm`` targets are
Slurm jobs (`sbatch` on the login node: this machine with ``local: true``, else over SSH with the
SSH keys above); its keys are in engine.compute.slurm.target and docs/slurm.md.

This module stays light (no pydantic): job submission and run supervisors import it. The YAML
is read by engine.specs.compute.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.entities import BUILTIN_COMPUTE, COMPUTE_TYPES, ComputeTarget, EnvironmentSpec, unknown_compute
from engine.errors import LaunchFailed, NotFound
from engine.runtime.launchspec import LaunchSpec

__all__ = [
    "BUILTIN_COMPUTE",
    "COMPUTE_TYPES",
    "ComputeTarget",
    "create_compute_target",
    "resolve_compute",
    "run_environment",
    "run_settings",
]


def create_compute_target(store: Any, target: ComputeTarget) -> ComputeTarget:
    """Register a validated target (engine.specs.compute) in the workspace store."""
    return store.add_compute_target(target.name, target.type, target.config, target.description)


# ------------------------------------------------------------------------------ jobs -> targets
def resolve_compute(store: Any, name: str | None, source: str | None = None) -> ComputeTarget:
    """`local`, `docker`, `NAME` or `azureml:NAME` (None: `local`) -> the target. NotFound lists
    the known targets; `source` (the job file) is named in it."""
    text = (name or "local").strip()
    text = text.removeprefix("azureml:")
    if "/computes/" in text:  # an Azure ML resource id: .../workspaces/W/computes/NAME
        text = text.rstrip("/").rsplit("/", 1)[-1]
    if not text:
        text = "local"
    try:
        return store.get_compute_target(text)
    except NotFound:
        registered = [t.name for t in store.list_compute_targets(builtin=False)]
        raise unknown_compute(text, registered, source) from None


SSH_SETTINGS = ("host", "port", "user", "key_file", "known_hosts", "work_dir", "cache_dir", "keep_remote_files",
                "hosts", "docker")


# engine.compute.slurm.SlurmTarget's settings
SLURM_SETTINGS = ("local", "partition", "account", "qos", "time_limit", "gpu_request", "sbatch", "work_dir",
                  "keep_remote_files", "mpi")


def run_settings(target: ComputeTarget, gpus: int | str | None = None) -> dict[str, Any]:
    """The spec.json keys of a run on `target`: `compute` (local | docker | ssh), `compute_target`
    and its `max_concurrent_runs`, `docker_network`, `gpus` (the job's request wins over the
    target's), `default_image`, and for SSH targets `ssh` (the connection settings, `docker: true`
    when jobs run in containers of the host's daemon)."""
    if target.type not in COMPUTE_TYPES:
        raise LaunchFailed(f"compute target {target.name!r} has the unknown type {target.type!r}",
                           "it was made by a newer Trainyard: upgrade, or recreate the target")
    config = target.config
    settings = {
        "compute": target.type,
        "compute_target": target.name,
        "max_concurrent_runs": config.get("max_concurrent_runs"),
        "docker_network": config.get("network", "host"),
        "gpus": gpus if gpus is not None else config.get("gpus"),
        "default_image": config.get("image"),
    }
    if target.type == "ssh":  # how the supervisor connects (engine.compute.ssh.SshTarget)
        settings["ssh"] = {k: config[k] for k in SSH_SETTINGS if config.get(k) not in (None, False)}
    if target.type == "slurm":  # Slurm hands out the GPUs: the request goes into the batch script
        settings["gpus"] = None
        slurm = {k: config[k] for k in SLURM_SETTINGS if config.get(k) is not None}
        if gpus is not None:
            slurm["gpus"] = gpus
        if not config.get("local"):
            slurm["ssh"] = {k: config[k] for k in SSH_SETTINGS
                            if config.get(k) not in (None, False) and k not in ("work_dir", "docker", "hosts")}
        settings["slurm"] = slurm
    return settings


def run_environment(spec: LaunchSpec) -> EnvironmentSpec | None:
    """The EnvironmentSpec a run's supervisor builds, from its launch spec (None: nothing to build).

    On a `docker` target (or an SSH target with `docker: true`) with a default `image`, an
    environment without an image of its own (pip or conda packages) is built on top of that image,
    so that it can run in a container; on such an SSH target a job with no environment runs in
    that image (made sure to be on the host like any other)."""
    env = EnvironmentSpec.from_dict(spec.environment) if spec.environment else None
    image = spec.placement.default_image
    containers = spec.placement.compute == "docker" or bool((spec.placement.ssh or {}).get("docker"))
    if (env is not None and image and containers and not env.needs_docker
            and not env.user_managed and (env.conda is not None or env.pip_requirements is not None)):
        env = replace(env, image=image)
    if image and spec.placement.compute == "ssh" and containers and (env is None or env.kind == "user"):
        env = EnvironmentSpec(name=image, image=image)
    return env
