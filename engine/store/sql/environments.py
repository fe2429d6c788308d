"""Registered environments: versions of a name, each the EnvironmentSpec it was registered with."""

from __future__ import annotations

import difflib
import time

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.entities import EnvironmentSpec
from engine.errors import InvalidSpec, NotFound, WorkspaceError
from engine.names import check_registrable_name
from engine.store.models import EnvironmentRow
from engine.store.sql.base import SqlBase, version_row


class Environments(SqlBase):
    """Registered environments."""

    def add_environment(self, spec: EnvironmentSpec) -> EnvironmentSpec:
        """Register `spec` as a new version of `spec.name`: the next free number, or
        `spec.version` when it gives one that is free. Curated (reserved) names are refused."""
        check_registrable_name(spec.name)
        for _attempt in range(5):
            with self._session() as s:
                try:
                    with s.begin():
                        if spec.version is not None:
                            version = spec.version
                            taken = s.scalar(select(EnvironmentRow.id).where(
                                EnvironmentRow.name == spec.name, EnvironmentRow.version == version))
                            if taken is not None:
                                latest = s.scalar(select(func.max(EnvironmentRow.version))
                                                  .where(EnvironmentRow.name == spec.name)) or 0
                                raise InvalidSpec(
                                    f"environment {spec.name!r} already has a version {version}",
                                    f"versions cannot be changed once registered: leave `version:` out to "
                                    f"register it as version {latest + 1}, or give a version that is free",
                                    field="version",
                                )
                        else:
                            version = (s.scalar(select(func.max(EnvironmentRow.version))
                                                .where(EnvironmentRow.name == spec.name)) or 0) + 1
                        stored = {**spec.to_dict(), "version": version, "curated": False}
                        s.add(EnvironmentRow(name=spec.name, version=version, spec=stored,
                                             description=spec.description or "", created_at=time.time()))
                    return self.get_environment(spec.name, version)
                except IntegrityError:
                    continue  # another writer took this version number: try again (an explicit one now fails)
        raise WorkspaceError(f"could not allocate a version for environment {spec.name!r}", "try again")

    def get_environment(self, name: str, version: int | None = None) -> EnvironmentSpec:
        """One registered version (default: the latest)."""
        with self._session() as s:
            row = version_row(s, EnvironmentRow, name, version)
            if row is None:
                versions = list(s.scalars(select(EnvironmentRow.version).where(EnvironmentRow.name == name)
                                          .order_by(EnvironmentRow.version)))
                if versions:
                    raise NotFound(f"environment {name!r} has no version {version}",
                                   f"its versions: {', '.join(map(str, versions))} (or use {name}@latest)")
                names = list(s.scalars(select(EnvironmentRow.name).distinct()))
                close = difflib.get_close_matches(name, names, n=3)
                raise NotFound(f"no environment named {name!r} in this workspace",
                               f"did you mean {', '.join(close)}?" if close
                               else "list environments with `trainyard environment list`")
            return _environment_spec(row)

    def list_environments(self, name: str | None = None) -> list[EnvironmentSpec]:
        """Every registered version, by name then version."""
        with self._session() as s:
            q = select(EnvironmentRow)
            if name is not None:
                q = q.where(EnvironmentRow.name == name)
            rows = s.scalars(q.order_by(EnvironmentRow.name, EnvironmentRow.version)).all()
            return [_environment_spec(r) for r in rows]

    def environment_created_at(self, name: str, version: int) -> float | None:
        with self._session() as s:
            return s.scalar(select(EnvironmentRow.created_at).where(
                EnvironmentRow.name == name, EnvironmentRow.version == version))


def _environment_spec(row: EnvironmentRow) -> EnvironmentSpec:
    from dataclasses import fields

    known = {f.name for f in fields(EnvironmentSpec)}
    data = {k: v for k, v in (row.spec or {}).items() if k in known}  # written by a newer Trainyard
    data.update(name=row.name, version=row.version, description=row.description or "", curated=False)
    return EnvironmentSpec.from_dict(data)
