"""`Experiment`: a named group of runs; `submit(config)` starts one."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from engine.runtime.sweepresults import is_sweep
from engine.sdk.hyperdrive import HyperDriveConfig
from engine.sdk.hyperdriverun import HyperDriveRun
from engine.sdk.run import Run
from engine.sdk.runconfig import ScriptRunConfig
from engine.sdk.submission import submit_config


@runtime_checkable
class SubmitsItself(Protocol):
    """A configuration that knows how to start itself in an experiment (engine.sdk.pipeline.Pipeline)."""

    def submit_to(self, experiment: Experiment, tags: dict[str, Any] | None) -> Run: ...


class Experiment:
    def __init__(self, workspace: Any, name: str, **_ignored: Any) -> None:
        self.workspace = workspace
        self.name = name

    def submit(
        self, config: ScriptRunConfig | HyperDriveConfig | SubmitsItself, tags: dict[str, Any] | None = None,
        **_ignored: Any,
    ) -> Run:
        """Start `config`: a ScriptRunConfig as a run, a HyperDriveConfig as a sweep (a HyperDriveRun),
        a Pipeline as a pipeline whose steps are child runs (a PipelineRun)."""
        if isinstance(config, SubmitsItself):
            return config.submit_to(self, tags)
        run = submit_config(self.workspace.engine, self.name, config, tags)
        return HyperDriveRun(self, run.name) if isinstance(config, HyperDriveConfig) else Run(self, run.name)

    def get_runs(self, include_children: bool = False, **_ignored: Any) -> list[Run]:
        """The experiment's runs, newest first, without child runs (sweep trials) unless
        `include_children`, as in Azure ML; a sweep's run is a HyperDriveRun."""
        return [
            HyperDriveRun(self, r.name) if is_sweep(r.properties) else Run(self, r.name)
            for r in self.workspace.engine.list_runs(experiment=self.name)
            if include_children or r.parent_name is None
        ]

    @staticmethod
    def list(workspace: Any, experiment_name: str | None = None, **_ignored: Any) -> list[Experiment]:
        """The workspace's experiments (or the one named `experiment_name`)."""
        return [
            Experiment(workspace, e.name)
            for e in workspace.engine.list_experiments()
            if experiment_name is None or e.name == experiment_name
        ]

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"
