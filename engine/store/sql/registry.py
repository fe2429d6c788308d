"""The registry: snapshots, models and data assets (each version of a name is one row)."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from engine import entities as E
from engine.errors import NotFound, WorkspaceError
from engine.store.models import DataAssetRow, ModelRow, SnapshotRow
from engine.store.sql.base import SqlBase, version_row


class Registry(SqlBase):
    """Snapshots, models and data assets."""

    def _add_next_version(self, table: type[ModelRow | DataAssetRow], name: str,
                          make_row: Callable[[int], ModelRow | DataAssetRow], what: str) -> int:
        """Insert `make_row(version)` as the next version of `name`; returns that version."""
        for _attempt in range(5):
            with self._session() as s:
                try:
                    with s.begin():
                        version = (s.scalar(select(func.max(table.version)).where(table.name == name)) or 0) + 1
                        s.add(make_row(version))
                    return version
                except IntegrityError:
                    continue  # another writer took this version number: try the next
        raise WorkspaceError(f"could not allocate a version for {what} {name!r}", "try again")

    # ----------------------------------------------------------------- snapshots
    def add_snapshot(self, info: E.SnapshotInfo) -> None:
        with self._session() as s, s.begin():
            if s.get(SnapshotRow, info.id) is None:
                s.add(SnapshotRow(id=info.id, source=info.source, file_count=info.file_count,
                                  total_bytes=info.total_bytes, git=info.git, created_at=info.created_at))

    # ----------------------------------------------------------------- models
    def add_model(self, *, name: str, path_for_version: Any, **fields: Any) -> E.Model:
        """Register the next version of `name`. `path_for_version(version)` returns where its
        files live (the caller copies them there before we commit)."""
        def row(version: int) -> ModelRow:
            return ModelRow(name=name, version=version, path=str(path_for_version(version)),
                            created_at=time.time(), **fields)

        return self.get_model(name, self._add_next_version(ModelRow, name, row, "model"))

    def get_model(self, name: str, version: int | None = None) -> E.Model:
        with self._session() as s:
            row = version_row(s, ModelRow, name, version)
            if row is None:
                names = list(s.scalars(select(ModelRow.name).distinct()))
                if version is not None and name in names:
                    raise NotFound(f"model {name!r} has no version {version}", f"list versions with `trainyard model list --name {name}`")
                close = difflib.get_close_matches(name, names, n=3)
                raise NotFound(f"no model named {name!r}", f"did you mean {', '.join(close)}?" if close else "list models with `trainyard model list`")
            return _model_entity(row)

    def list_models(self, name: str | None = None) -> list[E.Model]:
        with self._session() as s:
            q = select(ModelRow)
            if name is not None:
                q = q.where(ModelRow.name == name)
            return [_model_entity(r) for r in s.scalars(q.order_by(ModelRow.name, ModelRow.version)).all()]

    def delete_model_row(self, name: str, version: int) -> None:
        with self._session() as s, s.begin():
            s.execute(delete(ModelRow).where(ModelRow.name == name, ModelRow.version == version))

    # ----------------------------------------------------------------- data assets
    def add_data_asset(self, *, name: str, path: str, kind: str, description: str = "") -> E.DataAsset:
        def row(version: int) -> DataAssetRow:
            return DataAssetRow(name=name, version=version, path=path, kind=kind, description=description,
                                created_at=time.time())

        return self.get_data_asset(name, self._add_next_version(DataAssetRow, name, row, "data asset"))

    def get_data_asset(self, name: str, version: int | None = None) -> E.DataAsset:
        with self._session() as s:
            row = version_row(s, DataAssetRow, name, version)
            if row is None:
                raise NotFound(f"no data asset {name!r}" + (f" version {version}" if version else ""),
                               "list data assets with `trainyard data list`")
            return E.DataAsset(row.name, row.version, row.path, row.created_at, row.description, row.kind)

    def list_data_assets(self) -> list[E.DataAsset]:
        with self._session() as s:
            rows = s.scalars(select(DataAssetRow).order_by(DataAssetRow.name, DataAssetRow.version)).all()
            return [E.DataAsset(r.name, r.version, r.path, r.created_at, r.description, r.kind) for r in rows]


def _model_entity(r: ModelRow) -> E.Model:
    return E.Model(r.name, r.version, r.path, r.created_at, r.run_name, r.description, dict(r.tags or {}), r.source_path)
