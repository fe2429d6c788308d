"""Registering data: a data asset from a local path (snapshotted into the workspace's content
store, or with copy=False a reference checked by its checksum) or a URL, a model from files, and
a run's named outputs when it completes. A registration that fails leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.data.content import digest_of, store_and_materialize
from engine.errors import InvalidSpec, NotFound, TrainyardError
from engine.jobs.datatypes import type_problem
from engine.jobs.spec import MODEL_TYPES
from engine.names import NAME_HINT, is_valid_name
from engine.runtime.dataplan import OutputPlacement
from engine.specs.uris import classify, describe_cloud, local_path

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["DATA_TYPES", "create_data_asset", "register_model_files", "register_outputs"]

DATA_TYPES = ("uri_file", "uri_folder", "mltable")


def _staging(root: Path) -> Path:
    return root / f".staging-{os.getpid()}-{time.monotonic_ns()}"


def create_data_asset(
    store: Store,
    data_dir: Path,
    *,
    name: str,
    path: str,
    kind: str | None = None,
    version: int | None = None,
    description: str = "",
    tags: dict[str, Any] | None = None,
    copy: bool = True,
    run_name: str | None = None,
    source: str | None = None,
) -> E.DataAsset:
    """Register `path` (a local file or folder, or an http(s) URL kept as a reference) as `name`."""
    if not is_valid_name(name):
        raise InvalidSpec(f"invalid data asset name {name!r}", NAME_HINT, file=source, field="name")
    if kind is not None and kind not in DATA_TYPES:
        raise InvalidSpec(
            f"data asset type {kind!r} is not one of {', '.join(DATA_TYPES)}",
            "use uri_file (one file), uri_folder or mltable",
            file=source,
            field="type",
        )
    kind_of_path = classify(path)
    if kind_of_path in ("cloud", "azureml_asset"):
        raise InvalidSpec(
            f"{path} is in {describe_cloud(path)}, which this machine does not reach"
            if kind_of_path == "cloud"
            else f"{path} names an asset, not files",
            "copy the data to this machine and register the local copy",
            file=source,
            field="path",
        )
    path = local_path(path)
    if kind_of_path == "http":
        if kind not in (None, "uri_file"):
            raise InvalidSpec(
                f"an http(s) URL is one file, but the type is {kind}",
                "use `type: uri_file`",
                file=source,
                field="type",
            )
        return store.add_data_asset(
            name=name,
            path=path,
            kind="uri_file",
            description=description,
            version=version,
            tags=dict(tags or {}),
            copied=False,
            source_path=path,
            run_name=run_name,
        )
    src = Path(path).expanduser().resolve()
    if not src.exists():
        raise NotFound(
            f"{src} does not exist", "give a local file or folder (relative to the YAML), or an http(s) URL"
        )
    kind = kind or ("uri_folder" if src.is_dir() else "uri_file")
    problem = type_problem(kind, src)
    if problem is not None:
        raise InvalidSpec(f"{src} {problem}", "fix `type:` or `path:`", file=source, field="type")
    if version is not None:
        _check_version_is_free(store, name, version)
    if not copy:
        content = digest_of(src)
        return store.add_data_asset(
            name=name,
            path=str(src),
            kind=kind,
            description=description,
            version=version,
            tags=dict(tags or {}),
            content_hash=content.digest,
            size=content.size,
            file_count=content.file_count,
            copied=False,
            source_path=str(src),
            run_name=run_name,
        )
    staging = _staging(data_dir)
    try:
        content = store_and_materialize(src, data_dir / ".blobs", staging / src.name)
        holder: dict[str, Path] = {}

        def place(v: int) -> Path:  # the version is known only once the row is allocated
            final = data_dir / name / str(v)
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():  # left by an undone registration: it is not any version's
                shutil.rmtree(final)
            os.replace(staging, final)
            holder["final"] = final
            return final / src.name

        # The row is written with the final path; the files are moved first (place), then the row.
        chosen = version if version is not None else _next_version(store, name)
        path_final = place(chosen)
        try:
            return store.add_data_asset(
                name=name,
                path=str(path_final),
                kind=kind,
                description=description,
                version=chosen,
                tags=dict(tags or {}),
                content_hash=content.digest,
                size=content.size,
                file_count=content.file_count,
                copied=True,
                source_path=str(src),
                run_name=run_name,
            )
        except BaseException:
            shutil.rmtree(holder["final"], ignore_errors=True)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _next_version(store: Store, name: str) -> int:
    return max((a.version for a in store.list_data_assets(name, include_archived=True)), default=0) + 1


def _check_version_is_free(store: Store, name: str, version: int) -> None:
    try:
        store.get_data_asset(name, version)
    except NotFound:
        return
    from engine.errors import InvalidState

    raise InvalidState(
        f"data asset {name}:{version} already exists, and versions cannot change",
        f"give another `version:`, or leave it out to register {name}'s next version",
    )


def register_model_files(
    store: Store,
    models_dir: Path,
    *,
    name: str,
    src: Path,
    run_name: str | None = None,
    description: str = "",
    tags: dict[str, Any] | None = None,
    version: int | None = None,
) -> E.Model:
    """Copy a file or folder into the workspace as a version of model `name`."""
    if not is_valid_name(name):
        raise InvalidSpec(f"invalid model name {name!r}", NAME_HINT)
    if not src.exists():
        raise NotFound(f"{src} does not exist", "give the path of the model file or folder")
    staging = _staging(models_dir)
    if src.is_dir():
        shutil.copytree(src, staging / src.name)
    else:
        staging.mkdir(parents=True)
        shutil.copy2(src, staging / src.name)

    def place(v: int) -> Path:
        final = models_dir / name / str(v)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
        return final / src.name

    try:
        return store.add_model(
            name=name,
            path_for_version=place,
            run_name=run_name,
            description=description,
            tags=tags or {},
            source_path=str(src),
            version=version,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def register_outputs(
    store: Store,
    run_name: str,
    run_root: Path,
    outputs: list[OutputPlacement],
    *,
    data_dir: Path,
    models_dir: Path,
    completed: bool,
) -> list[str]:
    """Record each output in the lineage and, when the run completed, register those with a name.
    All or nothing: if one registration fails, those made before it are undone. Returns problems
    to report (an empty list when all went well)."""
    problems: list[str] = []
    made: list[tuple[str, str, int]] = []  # (kind, name, version) registered here
    records: list[E.RunData] = []
    for out in outputs:
        where = run_root / out.rel
        digest = digest_of(where).digest if where.exists() else None
        kind = "model" if out.type in MODEL_TYPES else "data"
        version = None
        if completed and out.asset_name is not None:
            if not where.exists() or (where.is_dir() and not any(where.iterdir())):
                problems.append(f"output {out.name!r} is empty: nothing was registered as {out.asset_name}")
                break
            try:
                if kind == "model":
                    m = register_model_files(
                        store,
                        models_dir,
                        name=out.asset_name,
                        src=where,
                        run_name=run_name,
                        description=out.description,
                        version=out.asset_version,
                    )
                    version = m.version
                else:
                    d = create_data_asset(
                        store,
                        data_dir,
                        name=out.asset_name,
                        path=str(where),
                        kind=out.type,
                        version=out.asset_version,
                        description=out.description,
                        run_name=run_name,
                    )
                    version = d.version
            except TrainyardError as exc:
                problems.append(
                    f"output {out.name!r} could not be registered as {out.asset_name}: {exc.one_line()}"
                )
                break
            made.append((kind, out.asset_name, version))
        records.append(
            E.RunData(
                run_name,
                "output",
                out.name,
                out.type,
                out.mode,
                out.rel,
                kind if version is not None else None,
                out.asset_name if version is not None else None,
                version,
                digest,
                time.time(),
            )
        )
    if problems:
        for kind, name, version in made:
            _undo(store, kind, name, version, data_dir, models_dir)
        records = [
            E.RunData(
                r.run_name,
                r.direction,
                r.name,
                r.type,
                r.mode,
                r.path,
                None,
                None,
                None,
                r.content_hash,
                r.created_at,
            )
            for r in records
        ]
    store.record_run_data(records)
    return problems


def _undo(store: Store, kind: str, name: str, version: int, data_dir: Path, models_dir: Path) -> None:
    if kind == "model":
        store.delete_model_row(name, version)
        shutil.rmtree(models_dir / name / str(version), ignore_errors=True)
    else:
        store.delete_data_asset_row(name, version)
        shutil.rmtree(data_dir / name / str(version), ignore_errors=True)
