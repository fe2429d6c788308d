"""Registered command components (versions of a name, as environments are), and the cache of
completed pipeline steps that a later identical step reuses."""

from __future__ import annotations

import difflib
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.errors import InvalidSpec, NotFound, WorkspaceError
from engine.jobs.pipeline import ComponentSpec
from engine.store.models import ComponentRow, RunRow, StepCacheRow
from engine.store.sql.base import SqlBase, version_row


class Pipelines(SqlBase):
    """Components and the step cache."""

    def add_component(self, spec: ComponentSpec) -> ComponentSpec:
        """Register `spec` as the next version of its name, or as `spec.version` (a whole number)
        when that is free."""
        given = int(spec.version) if spec.version is not None and str(spec.version).isdigit() else None
        if spec.version is not None and given is None:
            raise InvalidSpec(
                f"component version {spec.version!r} is not a whole number",
                "give e.g. `version: 1`, or leave it out for the next version",
                field="version",
            )
        for _attempt in range(5):
            with self._session() as s:
                try:
                    with s.begin():
                        latest = (
                            s.scalar(
                                select(func.max(ComponentRow.version)).where(ComponentRow.name == spec.name)
                            )
                            or 0
                        )
                        if given is not None:
                            taken = s.scalar(
                                select(ComponentRow.id).where(
                                    ComponentRow.name == spec.name, ComponentRow.version == given
                                )
                            )
                            if taken is not None:
                                raise InvalidSpec(
                                    f"component {spec.name!r} already has a version {given}",
                                    "versions cannot be changed once registered: leave `version:` "
                                    f"out to register version {latest + 1}",
                                    field="version",
                                )
                        version = given if given is not None else latest + 1
                        now = time.time()
                        stored = {**spec.to_dict(), "version": str(version), "created_at": now}
                        s.add(
                            ComponentRow(
                                name=spec.name,
                                version=version,
                                spec=stored,
                                description=spec.description or "",
                                created_at=now,
                            )
                        )
                    return self.get_component(spec.name, version)
                except IntegrityError:
                    continue  # another writer took this number: try again
        raise WorkspaceError(f"could not allocate a version for component {spec.name!r}", "try again")

    def get_component(self, name: str, version: int | None = None) -> ComponentSpec:
        """One registered version (default: the latest)."""
        with self._session() as s:
            row = version_row(s, ComponentRow, name, version)
            if row is None:
                versions = list(
                    s.scalars(
                        select(ComponentRow.version)
                        .where(ComponentRow.name == name)
                        .order_by(ComponentRow.version)
                    )
                )
                if versions:
                    raise NotFound(
                        f"component {name!r} has no version {version}",
                        f"its versions: {', '.join(map(str, versions))} (or use {name}@latest)",
                    )
                names = list(s.scalars(select(ComponentRow.name).distinct()))
                close = difflib.get_close_matches(name, names, n=3)
                raise NotFound(
                    f"no component named {name!r} in this workspace",
                    f"did you mean {', '.join(close)}?"
                    if close
                    else "register it with `trainyard component create -f component.yml`",
                )
            return _component(row)

    def list_components(self, name: str | None = None) -> list[ComponentSpec]:
        """Every registered version, by name then version."""
        with self._session() as s:
            q = select(ComponentRow)
            if name is not None:
                q = q.where(ComponentRow.name == name)
            return [_component(r) for r in s.scalars(q.order_by(ComponentRow.name, ComponentRow.version))]

    def add_cached_step(self, key: str, run_name: str, outputs: dict[str, Any]) -> None:
        with self._session() as s, s.begin():
            s.add(StepCacheRow(key=key, run_name=run_name, outputs=outputs, created_at=time.time()))

    def find_cached_step(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """The newest completed step recorded under `key`: (its run, its outputs), or None."""
        with self._session() as s:
            row = s.execute(
                select(StepCacheRow.run_name, StepCacheRow.outputs)
                .join(RunRow, RunRow.name == StepCacheRow.run_name)
                .where(StepCacheRow.key == key, RunRow.status == "Completed")
                .order_by(StepCacheRow.id.desc())
                .limit(1)
            ).first()
            return (row[0], dict(row[1])) if row is not None else None


def _component(row: ComponentRow) -> ComponentSpec:
    data = dict(row.spec or {})
    data.update(
        name=row.name, version=str(row.version), description=row.description or "", created_at=row.created_at
    )
    return ComponentSpec.from_dict(data)
