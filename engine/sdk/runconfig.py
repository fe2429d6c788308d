"""ScriptRunConfig and the run configuration it carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PyTorchConfiguration:
    communication_backend: str = "Nccl"
    process_count: int | None = None
    node_count: int = 1


@dataclass
class MpiConfiguration:
    process_count_per_node: int = 1
    node_count: int = 1


@dataclass
class TensorflowConfiguration:
    """TF_CONFIG workers and parameter servers, one process each (engine.runtime.distribution)."""

    worker_count: int = 1
    parameter_server_count: int = 1


@dataclass
class DockerConfiguration:
    """`ScriptRunConfig(docker_runtime_config=...)` / `run_config.docker`: run in a container, with
    this /dev/shm size (PyTorch DataLoader workers need more than Docker's 64m)."""

    use_docker: bool | None = None
    arguments: list[str] | None = None
    shared_volumes: bool = True
    shm_size: str | None = None


class RunConfiguration:
    def __init__(self, script: str | None = None, arguments: list[Any] | None = None) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.target: Any = "local"
        self.environment: Any = None
        self.environment_variables: dict[str, str] = {}
        self.max_run_duration_seconds: float | None = None
        self.node_count = 1
        self.docker: DockerConfiguration | None = None


class ScriptRunConfig:
    """What to run: a script in a source directory, with an argv list (never a shell)."""

    def __init__(
        self,
        source_directory: str = ".",
        script: str | None = None,
        arguments: list[Any] | None = None,
        run_config: RunConfiguration | None = None,
        compute_target: Any = None,
        environment: Any = None,
        distributed_job_config: Any = None,
        max_run_duration_seconds: float | None = None,
        command: list[str] | str | None = None,
        docker_runtime_config: Any = None,
        **_ignored: Any,
    ) -> None:
        self.source_directory = source_directory
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.run_config = run_config or RunConfiguration(script, self.arguments)
        if compute_target is not None:
            self.run_config.target = compute_target
        if environment is not None:
            self.run_config.environment = environment
        if max_run_duration_seconds is not None:
            self.run_config.max_run_duration_seconds = max_run_duration_seconds
        self.distributed_job_config = distributed_job_config
        if docker_runtime_config is not None:
            self.run_config.docker = docker_runtime_config

    @property
    def compute_target(self) -> Any:
        return self.run_config.target

    @property
    def environment(self) -> Any:
        return self.run_config.environment
