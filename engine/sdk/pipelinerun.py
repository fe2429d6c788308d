"""`PipelineRun`: the run of a pipeline as a control script sees it; its steps are child runs."""

from __future__ import annotations

from typing import Any

from engine.errors import NotFound
from engine.sdk.run import Run


class PipelineRun(Run):
    """A pipeline's parent run (SDK v1's `azureml.pipeline.core.PipelineRun`)."""

    def get_steps(self) -> list[Run]:
        """The steps' runs (SDK v1: `pipeline_run.get_steps()`), in the order they were created."""
        runs = self._engine.children(self.id)
        return [Run(self.experiment, r.name) for r in sorted(runs, key=lambda r: r.created_at)]

    def find_step_run(self, name: str) -> list[Run]:
        """The runs of the step called `name` (SDK v1 returns a list)."""
        return [Run(self.experiment, s.run_name) for s in self.graph().steps if s.name == name and s.run_name]

    def step_run(self, name: str) -> Run:
        """The run of the step called `name`; NotFound names the steps there are."""
        found = self.find_step_run(name)
        if not found:
            names = [s.name for s in self.graph().steps]
            raise NotFound(
                f"pipeline run {self.id} has no step {name!r}", "its steps: " + (", ".join(names) or "none")
            )
        return found[0]

    def graph(self) -> Any:
        """The pipeline's steps and their states (the engine's PipelineGraph)."""
        return self._engine.pipeline_graph(self.id)
