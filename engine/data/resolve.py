"""A job's data inputs at submit: each resolved to a path on this machine (a local path, the
workspace's copy of a registered data asset or model, or an http(s) download from the cache),
its type checked, its content hash taken for the lineage record."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine import entities as E
from engine.data.content import digest_of
from engine.data.httpcache import fetch
from engine.errors import InvalidSpec, InvalidState, NotFound
from engine.jobs.datatypes import type_problem
from engine.jobs.spec import MODEL_TYPES, DataInput, DataOutput

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["ResolvedInput", "check_outputs_can_register", "http_cache_dir", "resolve_inputs"]


@dataclass(frozen=True)
class ResolvedInput:
    name: str
    type: str
    mode: str
    given: str  # the path as the job gave it
    source: str  # the path on this machine (direct mode on a URL: the URL)
    is_file: bool
    asset_kind: str | None = None
    asset_name: str | None = None
    asset_version: int | None = None
    content_hash: str | None = None

    def lineage(self, run_name: str) -> E.RunData:
        return E.RunData(
            run_name,
            "input",
            self.name,
            self.type,
            self.mode,
            self.given,
            self.asset_kind,
            self.asset_name,
            self.asset_version,
            self.content_hash,
            time.time(),
        )


def http_cache_dir(data_dir: Path) -> Path:
    return data_dir / ".http-cache"


def resolve_inputs(
    store: Store,
    data_dir: Path,
    inputs: Mapping[str, DataInput],
    *,
    source: str | None = None,
    progress: Callable[[str], None] | None = None,
    download: bool = True,
) -> list[ResolvedInput]:
    """Each input resolved and checked; `download=False` (a check only) leaves http(s) inputs out."""
    return [
        _resolve(store, data_dir, name, given, source, progress)
        for name, given in inputs.items()
        if download or not given.path.startswith(("http://", "https://"))
    ]


def _resolve(
    store: Store,
    data_dir: Path,
    name: str,
    given: DataInput,
    source: str | None,
    progress: Callable[[str], None] | None,
) -> ResolvedInput:
    field = f"inputs.{name}.path"
    path = given.path
    if path.startswith(("http://", "https://")):
        if given.mode == "direct":
            return ResolvedInput(name, given.type, "direct", path, path, True)
        if given.type != "uri_file":
            raise InvalidSpec(
                f"input {name!r} is of type {given.type}, but an http(s) URL is downloaded as one file",
                "use `type: uri_file` (or `mode: direct` to give the script the URL)",
                file=source,
                field=f"inputs.{name}.type",
            )
        local, digest, _new = fetch(path, http_cache_dir(data_dir), progress)
        return ResolvedInput(name, given.type, given.mode, path, str(local), True, content_hash=digest)
    if path.startswith("azureml:"):
        return _resolve_asset(store, name, given, source)
    local = Path(path)
    if not local.exists():
        raise NotFound(
            f"input {name!r}: {local} does not exist",
            "give an existing file or folder",
        )
    problem = type_problem(given.type, local)
    if problem is not None:
        raise InvalidSpec(
            f"input {name!r}: {local} {problem}", "fix the input's type or path", file=source, field=field
        )
    return ResolvedInput(
        name, given.type, given.mode, path, str(local), local.is_file(), content_hash=digest_of(local).digest
    )


def _resolve_asset(store: Store, name: str, given: DataInput, source: str | None) -> ResolvedInput:
    ref = given.path.removeprefix("azureml:")
    if "@" in ref:
        asset, version = ref.split("@", 1)[0], None
    else:
        asset, _, v = ref.partition(":")
        version = int(v)
    if given.type in MODEL_TYPES:
        model = store.get_model(asset, version)  # NotFound names the known ones
        local = Path(model.path)
        problem = type_problem(given.type, local)
        if problem is not None:
            raise InvalidSpec(
                f"input {name!r}: model {model.name}:{model.version} {problem}",
                "fix the input's `type:`",
                file=source,
                field=f"inputs.{name}.type",
            )
        return ResolvedInput(
            name,
            given.type,
            given.mode,
            given.path,
            str(local),
            local.is_file(),
            "model",
            model.name,
            model.version,
            digest_of(local).digest,
        )
    try:
        data = store.get_data_asset(asset, version)
    except NotFound as exc:
        raise NotFound(f"input {name!r}: {exc.message}", exc.hint) from None
    compatible = {"uri_folder": ("uri_folder", "mltable"), "mltable": ("mltable",), "uri_file": ("uri_file",)}
    if data.kind not in compatible.get(given.type, ()):
        raise InvalidSpec(
            f"input {name!r} is of type {given.type}, but data asset {data.name}:{data.version} is a "
            f"{data.kind}",
            f"use `type: {data.kind}` or another asset",
            file=source,
            field=f"inputs.{name}.type",
        )
    local = Path(data.path)
    if not local.exists():
        raise NotFound(
            f"input {name!r}: the files of data asset {data.name}:{data.version} are gone ({local})",
            "register the data again (`trainyard data create`)",
        )
    digest = data.content_hash
    if not data.copied:  # a reference: it must still hold what was registered
        digest = digest_of(local).digest
        if data.content_hash and digest != data.content_hash:
            raise InvalidState(
                f"input {name!r}: data asset {data.name}:{data.version} was registered with "
                f"--no-copy, and {local} has changed since (its checksum differs)",
                "register the folder as a new version (`trainyard data create`), or restore it",
            )
    return ResolvedInput(
        name,
        given.type,
        given.mode,
        given.path,
        str(local),
        local.is_file(),
        "data",
        data.name,
        data.version,
        digest,
    )


def check_outputs_can_register(store: Store, outputs: Mapping[str, DataOutput], source: str | None) -> None:
    """An output that names a version that exists fails the submit (versions never change)."""
    for name, out in outputs.items():
        if out.asset_name is None or out.asset_version is None:
            continue
        try:
            if out.type in MODEL_TYPES:
                store.get_model(out.asset_name, out.asset_version)
                what = "model"
            else:
                store.get_data_asset(out.asset_name, out.asset_version)
                what = "data asset"
        except NotFound:
            continue
        raise InvalidState(
            f"output {name!r} would register {what} {out.asset_name}:{out.asset_version}, which "
            "already exists (versions cannot change)",
            "give another `version:`, or leave it out to register the next version",
        )
