"""Read-only answers about a workspace's runs for commands that must answer at once (`trainyard
job list`, `job show`: ≤ 150 ms on 1,000 runs). `Lookup` has the Engine methods those commands
call and reads the SQLite store through the standard library (engine.store.lite): importing
engine.api (SQLAlchemy, pydantic, the compute back ends) costs several times the whole budget.

`open_lookup` answers None whenever only the full Engine gives the right answer, and the caller
opens that instead: a PostgreSQL store, a workspace not yet created or migrated (the Engine
creates and migrates it), or an active run of this host whose supervisor may have died (the
Engine's reconcile marks it Failed before anything is shown).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from engine import entities as E
from engine.runtime.host import runs_here
from engine.store.lite import LiteReader, open_reader
from engine.workspace import WorkspaceLocation, resolve_workspace


class Lookup:
    """One workspace, read only; the same answers as Engine's methods of the same names."""

    def __init__(self, location: WorkspaceLocation, reader: LiteReader) -> None:
        self.location = location
        self._reader = reader

    def close(self) -> None:
        self._reader.close()

    def get_run(self, name: str) -> E.Run:
        return self._reader.get_run(name)

    def list_runs(self, **filters: Any) -> list[E.Run]:
        return self._reader.list_runs(**filters)

    def children(self, name: str) -> list[E.Run]:
        return self._reader.list_children(name)

    def archived_among(self, names: Sequence[str]) -> set[str]:
        return self._reader.archived_among(names)

    def run_data(self, name: str) -> list[E.RunData]:
        return self._reader.run_data(name)

    def latest_metrics(self, name: str) -> dict[str, Any]:
        return {m.key: m.last_value for m in self._reader.metric_summaries(name)}

    def pipeline_graph(self, name: str) -> E.PipelineGraph:
        # Deferred: reading a launch spec costs ~40 ms of imports that `job list` and the `job show`
        # of any other run must not pay (the budget above).
        from engine.pipelines.graph import pipeline_graph

        return pipeline_graph(self._reader, name)


def open_lookup(path: str | os.PathLike[str] | None = None) -> Lookup | None:
    """A Lookup of the workspace at `path` (resolved as Engine.open does), or None (see above)."""
    location = resolve_workspace(path)
    reader = open_reader(location.store_url)
    if reader is None:
        return None
    if _may_need_reconcile(reader):
        reader.close()
        return None
    return Lookup(location, reader)


def _may_need_reconcile(reader: LiteReader) -> bool:
    """True when an active run of this host has no live supervisor (engine.runs.control.reconcile
    would mark it Failed). Most workspaces have no active run, and then psutil is not even loaded."""
    active = reader.active_runs()
    if not active:
        return False
    from engine.compute.procs import is_same_process_alive  # psutil: only with active runs
    from engine.runs.control import QUEUED_GRACE_SECONDS

    for _name, pid, started, created, props in active:
        if not runs_here(props):
            continue  # another machine's: a SQLite store is one machine's, with no heartbeats to judge it by
        if pid is None:
            if time.time() - created > QUEUED_GRACE_SECONDS:
                return True
        elif not is_same_process_alive(pid, started):
            return True
    return False
