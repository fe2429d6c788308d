"""The registry: snapshots, models and data assets (each version of a name is one row)."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from engine import entities as E
from engine.errors import InvalidState, NotFound, WorkspaceError
from engine.store.models import DataAssetRow, ModelRow, RunDataRow, SnapshotRow
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
        try:
            with self._session() as s, s.begin():
                if s.get(SnapshotRow, info.id) is None:
                    s.add(SnapshotRow(id=info.id, source=info.source, file_count=info.file_count,
                                      total_bytes=info.total_bytes, git=info.git, created_at=info.created_at))
        except IntegrityError:
            # The same code snapshotted by another engine at the same moment: it is recorded.
            with self._session() as s:
                if s.get(SnapshotRow, info.id) is None:
                    raise

    # ----------------------------------------------------------------- models
    def add_model(self, *, name: str, path_for_version: Any, version: int | None = None, **fields: Any) -> E.Model:
        """Register the next version of `name` (or `version`, which must not exist). `path_for_version(version)`
        returns where its files live (the caller copies them there before we commit)."""
        def row(v: int) -> ModelRow:
            return ModelRow(name=name, version=v, path=str(path_for_version(v)), created_at=time.time(), **fields)

        if version is None:
            return self.get_model(name, self._add_next_version(ModelRow, name, row, "model"))
        try:
            with self._session() as s, s.begin():
                s.add(row(version))
        except IntegrityError:
            raise InvalidState(f"model {name}:{version} already exists, and versions cannot change",
                               "give another version, or leave it out to register the next") from None
        return self.get_model(name, version)

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
    def add_data_asset(self, *, name: str, path: str, kind: str, description: str = "",
                       version: int | None = None, **fields: Any) -> E.DataAsset:
        """Register `name` at `version` (None: the next). Versions are immutable: a version that
        exists is an InvalidState, and nothing is written. `fields`: tags, content_hash, size,
        file_count, run_name, copied, source_path."""
        def row(v: int) -> DataAssetRow:
            return DataAssetRow(name=name, version=v, path=path, kind=kind, description=description,
                                created_at=time.time(), **fields)

        if version is None:
            return self.get_data_asset(name, self._add_next_version(DataAssetRow, name, row, "data asset"))
        try:
            with self._session() as s, s.begin():
                s.add(row(version))
        except IntegrityError:
            raise InvalidState(f"data asset {name}:{version} already exists, and versions cannot change",
                               f"give another `version:`, or leave it out to register {name}'s next version") \
                from None
        return self.get_data_asset(name, version)

    def get_data_asset(self, name: str, version: int | None = None) -> E.DataAsset:
        """`name` at `version`; None: the latest version that is not archived."""
        with self._session() as s:
            if version is None:
                q = select(DataAssetRow).where(DataAssetRow.name == name, DataAssetRow.archived.is_(False))
                row = s.scalars(q.order_by(DataAssetRow.version.desc()).limit(1)).first()
            else:
                row = version_row(s, DataAssetRow, name, version)
            if row is None:
                names = list(s.scalars(select(DataAssetRow.name).distinct()))
                if name in names:
                    raise NotFound(f"data asset {name!r} has " + (f"no version {version}" if version is not None
                                                                   else "no version that is not archived"),
                                   f"list its versions with `trainyard data list --name {name}`")
                close = difflib.get_close_matches(name, names, n=3)
                raise NotFound(f"no data asset {name!r}",
                               f"did you mean {', '.join(close)}?" if close else
                               "register one with `trainyard data create -f data.yml`; list them with "
                               "`trainyard data list`")
            return _asset_entity(row)

    def list_data_assets(self, name: str | None = None, include_archived: bool = False) -> list[E.DataAsset]:
        with self._session() as s:
            q = select(DataAssetRow)
            if name is not None:
                q = q.where(DataAssetRow.name == name)
            if not include_archived:
                q = q.where(DataAssetRow.archived.is_(False))
            rows = s.scalars(q.order_by(DataAssetRow.name, DataAssetRow.version)).all()
            return [_asset_entity(r) for r in rows]

    def archive_data_asset(self, name: str, version: int | None = None, archived: bool = True) -> list[E.DataAsset]:
        """Archive (or restore) one version, or every version of `name` when None."""
        with self._session() as s, s.begin():
            q = select(DataAssetRow).where(DataAssetRow.name == name)
            if version is not None:
                q = q.where(DataAssetRow.version == version)
            rows = list(s.scalars(q).all())
            if not rows:
                raise NotFound(f"no data asset {name!r}" + (f" version {version}" if version is not None else ""),
                               "list data assets with `trainyard data list --include-archived`")
            for r in rows:
                r.archived = archived
            return [_asset_entity(r) for r in rows]

    def delete_data_asset_row(self, name: str, version: int) -> None:
        """Undo a registration that could not be completed (nothing half-registered)."""
        with self._session() as s, s.begin():
            s.execute(delete(DataAssetRow).where(DataAssetRow.name == name, DataAssetRow.version == version))

    # ----------------------------------------------------------------- lineage
    def record_run_data(self, entries: list[E.RunData]) -> None:
        with self._session() as s, s.begin():
            for e in entries:
                s.add(RunDataRow(run_name=e.run_name, direction=e.direction, name=e.name, type=e.type, mode=e.mode,
                                 path=e.path, asset_kind=e.asset_kind, asset_name=e.asset_name,
                                 asset_version=e.asset_version, content_hash=e.content_hash,
                                 created_at=e.created_at or time.time()))

    def run_data(self, run_name: str) -> list[E.RunData]:
        with self._session() as s:
            q = select(RunDataRow).where(RunDataRow.run_name == run_name).order_by(RunDataRow.id)
            return [_run_data_entity(r) for r in s.scalars(q).all()]

    def asset_usage(self, asset_kind: str, name: str, version: int | None = None) -> list[E.RunData]:
        """Every record of a run consuming or producing the asset (both directions)."""
        with self._session() as s:
            q = select(RunDataRow).where(RunDataRow.asset_kind == asset_kind, RunDataRow.asset_name == name)
            if version is not None:
                q = q.where(RunDataRow.asset_version == version)
            return [_run_data_entity(r) for r in s.scalars(q.order_by(RunDataRow.id)).all()]


def _asset_entity(r: DataAssetRow) -> E.DataAsset:
    return E.DataAsset(r.name, r.version, r.path, r.created_at, r.description, r.kind, dict(r.tags or {}),
                       r.content_hash, r.size, r.file_count, r.run_name, bool(r.archived), bool(r.copied),
                       r.source_path)


def _run_data_entity(r: RunDataRow) -> E.RunData:
    return E.RunData(r.run_name, r.direction, r.name, r.type, r.mode, r.path, r.asset_kind, r.asset_name,
                     r.asset_version, r.content_hash, r.created_at)


def _model_entity(r: ModelRow) -> E.Model:
    return E.Model(r.name, r.version, r.path, r.created_at, r.run_name, r.description, dict(r.tags or {}), r.source_path)
