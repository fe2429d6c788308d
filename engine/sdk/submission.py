"""A `ScriptRunConfig` as the engine's JobSpec, and submitting it: `Experiment.submit` and
`Run.submit_child` both go through here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.errors import InvalidSpec
from engine.jobs.spec import JobSpec
from engine.runtime.distribution import make_distribution
from engine.sdk.runconfig import MpiConfiguration, PyTorchConfiguration, ScriptRunConfig


def submit_config(engine: Any, experiment: str, config: ScriptRunConfig, tags: dict[str, Any] | None,
                  parent_run: str | None = None) -> E.Run:
    """Submit `config` in `experiment` (as a child of `parent_run` when given); warnings print."""
    spec = spec_from_config(experiment, config, tags or {})
    if parent_run is not None:
        spec = replace(spec, parent_run=parent_run)
    return engine.submit(spec, on_warning=lambda msg: print(f"Warning: {msg}"))


def spec_from_config(experiment: str, config: ScriptRunConfig, tags: dict[str, Any]) -> JobSpec:
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
        command, script, arguments = None, config.script, tuple(str(a) for a in config.arguments)
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
    )


def _distribution(config: Any) -> Any:
    """PyTorchConfiguration(process_count, node_count) / MpiConfiguration(process_count_per_node,
    node_count) as the engine's Distribution; None for a single process."""
    if config is None:
        return None
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
                      "use PyTorchConfiguration or MpiConfiguration", field="distributed_job_config")
