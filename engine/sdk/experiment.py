"""`Experiment`: a named group of runs; `submit(config)` starts one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec
from engine.jobs.spec import JobSpec
from engine.sdk.run import Run
from engine.sdk.runconfig import ScriptRunConfig


class Experiment:
    def __init__(self, workspace: Any, name: str, **_ignored: Any) -> None:
        self.workspace = workspace
        self.name = name

    def submit(self, config: ScriptRunConfig, tags: dict[str, Any] | None = None, **_ignored: Any) -> Run:
        spec = _spec_from_config(self.name, config, tags or {})
        run = self.workspace.engine.submit(spec, on_warning=lambda msg: print(f"Warning: {msg}"))
        return Run(self, run.name)

    def get_runs(self, **_ignored: Any) -> list[Run]:
        return [Run(self, r.name) for r in self.workspace.engine.list_runs(experiment=self.name)]

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"


def _spec_from_config(experiment: str, config: ScriptRunConfig, tags: dict[str, Any]) -> JobSpec:
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
    from engine.runs.distributed import make_distribution
    from engine.sdk.runconfig import MpiConfiguration, PyTorchConfiguration

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
