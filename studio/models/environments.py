"""The table of environments: registered versions and curated ones, with their build state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.entities import EnvironmentSpec
from engine.environments import status as S
from studio.models.rows import RowTableModel
from studio.style import fmt_time, status_icon

KIND_LABELS = {"user": "user-managed", "venv": "venv (pip)", "conda": "conda", "docker": "docker"}
# Build states drawn with the run status colours: ready is green, running blue, failed red.
STATE_LOOK = {S.BUILT: "Completed", S.BUILDING: "Running", S.FAILED: "Failed", S.NOT_BUILT: "NotStarted",
              S.USER_MANAGED: "NotStarted"}
STATE_LABELS = {S.BUILT: "Built (cached)", S.BUILDING: "Building…", S.FAILED: "Build failed",
                S.NOT_BUILT: "Not built", S.USER_MANAGED: "Nothing to build"}


@dataclass(frozen=True)
class EnvironmentRow:
    spec: EnvironmentSpec
    status: S.BuildStatus
    created_at: float | None  # registered versions only

    @property
    def key(self) -> tuple[str, int | None, bool]:
        return (self.spec.name, self.spec.version, self.spec.curated)

    @property
    def source(self) -> str:
        return "curated" if self.spec.curated else "registered"


def load_environments(engine: Any) -> list[EnvironmentRow]:
    """Every environment with its build state (store reads and cache stats: call off the GUI thread)."""
    rows = []
    for spec in engine.list_all_environments():
        created = None if spec.curated else engine.environment_created_at(spec.name, spec.version)
        rows.append(EnvironmentRow(spec, engine.environment_build_status(spec), created))
    return rows


COLUMNS = ("Environment", "Version", "Kind", "Source", "Build", "Created", "Description")
COL_NAME, COL_VERSION, COL_KIND, COL_SOURCE, COL_BUILD, COL_CREATED, COL_DESCRIPTION = range(len(COLUMNS))


class EnvironmentTableModel(RowTableModel[EnvironmentRow]):
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = frozenset({COL_VERSION})

    def key(self, row: EnvironmentRow) -> Any:
        return row.key

    def display(self, row: EnvironmentRow, col: int) -> str:
        spec = row.spec
        if col == COL_NAME:
            return spec.name
        if col == COL_VERSION:
            return "" if spec.version is None else str(spec.version)
        if col == COL_KIND:
            return KIND_LABELS.get(spec.kind, spec.kind)
        if col == COL_SOURCE:
            return row.source
        if col == COL_BUILD:
            return STATE_LABELS.get(row.status.state, row.status.state)
        if col == COL_CREATED:
            return fmt_time(row.created_at)
        return spec.description.splitlines()[0] if spec.description else ""

    def sort_key(self, row: EnvironmentRow, col: int) -> Any:
        if col == COL_VERSION:
            return row.spec.version or 0
        if col == COL_CREATED:
            return row.created_at or 0.0
        return self.display(row, col).lower()

    def decoration(self, row: EnvironmentRow, col: int) -> Any:
        if col == COL_BUILD:
            return status_icon(STATE_LOOK.get(row.status.state, "NotStarted"))
        return None

    def tooltip(self, row: EnvironmentRow, col: int) -> str | None:
        if col == COL_BUILD:
            return row.status.error or row.status.location
        if col == COL_DESCRIPTION:
            return row.spec.description or None
        return None
