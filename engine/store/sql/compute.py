"""Registered compute targets (the built-in `local` and `docker` are not stored)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from engine import entities as E
from engine.errors import InvalidSpec
from engine.names import check_name
from engine.store.models import ComputeTargetRow
from engine.store.sql.base import SqlBase


class ComputeTargets(SqlBase):
    """Registered compute targets."""

    def add_compute_target(self, name: str, type: str, config: dict[str, Any],
                           description: str = "") -> E.ComputeTarget:
        """Register a compute target. The names of the built-in targets are reserved; a name
        that is taken is an error (delete the old target first)."""
        check_name(name, "compute target", reserved=E.BUILTIN_COMPUTE)
        if type not in E.COMPUTE_TYPES:
            raise InvalidSpec(f"unknown compute type {type!r}", f"use one of {', '.join(E.COMPUTE_TYPES)}",
                              field="type")
        taken = InvalidSpec(f"a compute target named {name!r} already exists",
                            f"pick another name, or delete it first with `trainyard compute delete -n {name}`",
                            field="name")
        with self._session() as s:
            try:
                with s.begin():
                    if s.scalar(select(ComputeTargetRow.id).where(ComputeTargetRow.name == name)) is not None:
                        raise taken
                    row = ComputeTargetRow(name=name, type=type, config=dict(config),
                                           description=description or "", created_at=time.time())
                    s.add(row)
            except IntegrityError:
                raise taken from None
            return _compute_entity(row)

    def get_compute_target(self, name: str) -> E.ComputeTarget:
        """A built-in (`local`, `docker`) or registered target; NotFound lists the known names."""
        if name in E.BUILTIN_COMPUTE:
            return E.builtin_compute_target(name)
        with self._session() as s:
            row = s.scalar(select(ComputeTargetRow).where(ComputeTargetRow.name == name))
            if row is not None:
                return _compute_entity(row)
            registered = list(s.scalars(select(ComputeTargetRow.name).order_by(ComputeTargetRow.name)))
        raise E.unknown_compute(name, registered)

    def list_compute_targets(self, *, builtin: bool = True) -> list[E.ComputeTarget]:
        """The built-in targets first (unless `builtin=False`), then the registered ones by name."""
        with self._session() as s:
            rows = s.scalars(select(ComputeTargetRow).order_by(ComputeTargetRow.name)).all()
            found = [_compute_entity(r) for r in rows]
        return ([E.builtin_compute_target(n) for n in E.BUILTIN_COMPUTE] if builtin else []) + found

    def delete_compute_target(self, name: str) -> E.ComputeTarget:
        """Remove a registered target (runs that used it keep its name); returns what was removed."""
        if name in E.BUILTIN_COMPUTE:
            raise InvalidSpec(f"the compute target {name!r} is built in and cannot be deleted",
                              "only targets made with `trainyard compute create` can be deleted", field="name")
        target = self.get_compute_target(name)
        with self._session() as s, s.begin():
            s.execute(delete(ComputeTargetRow).where(ComputeTargetRow.name == name))
        return target


def _compute_entity(row: ComputeTargetRow) -> E.ComputeTarget:
    return E.ComputeTarget(row.name, row.type, dict(row.config or {}), row.description or "", row.created_at)
