"""The pipelines manager: submit a pipeline, read its graph, register and read command components."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from engine import entities as E
from engine.errors import InvalidSpec
from engine.jobs.pipeline import ComponentSpec, PipelineSpec
from engine.names import is_valid_name
from engine.pipelines.graph import pipeline_graph
from engine.pipelines.submit import PipelineSubmitter
from engine.runs.submit import Submitter
from engine.snapshots import SnapshotStore
from engine.workspace import WorkspaceLocation

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["PipelinesManager"]


class PipelinesManager:
    def __init__(self, store: Store, location: WorkspaceLocation, snapshots: SnapshotStore) -> None:
        self.store = store
        self.location = location
        self.snapshots = snapshots
        self._submitter = PipelineSubmitter(store, location, snapshots)

    def submit(
        self,
        spec: PipelineSpec,
        on_warning: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> E.Run:
        return self._submitter.submit(spec, on_warning, on_progress)

    def validate(self, spec: PipelineSpec) -> None:
        self._submitter.validate(spec)

    def graph(self, run_name: str) -> E.PipelineGraph:
        return pipeline_graph(self.store, run_name)

    # ------------------------------------------------------------------ components
    def create_component(
        self, spec: ComponentSpec, on_warning: Callable[[str], None] | None = None
    ) -> ComponentSpec:
        """Register `spec` as the next version of its name (or its own `version:`): its code is
        snapshotted now, so later edits of the folder do not change the registered version."""
        if not is_valid_name(spec.name):
            raise InvalidSpec(
                f"{spec.name!r} is not a valid component name",
                "use letters, digits, '-', '_' and '.', starting with a letter or digit",
                file=spec.source_file,
                field="name",
            )
        snapshot = Submitter(self.store, self.location, self.snapshots).take_snapshot(
            spec.code_dir, on_warning
        )
        return self.store.add_component(replace(spec, snapshot_id=snapshot.id if snapshot else None))

    def get_component(self, name: str, version: int | None = None) -> ComponentSpec:
        return self.store.get_component(name, version)

    def list_components(self, name: str | None = None) -> list[ComponentSpec]:
        return self.store.list_components(name)
