"""Environment references (engine.names.parse_reference) -> specs: registered environments of the
workspace first, then the curated ones. Used by the CLI, the SDK and job submission."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.environments import curated
from engine.errors import NotFound
from engine.names import check_registrable_name, parse_reference
from engine.specs.environment import spec_from_inline


def resolve_environment(store: Any, ref_or_spec: str | EnvironmentSpec | Mapping[str, Any],
                        *, base_dir: str | Path | None = None) -> EnvironmentSpec:
    """A reference, an inline mapping or a spec -> the spec to build and run with.

    Registered environments (in `store`, a SqlStore; may be None) come first, then curated ones,
    so a workspace may register e.g. `sklearn-1.5` of its own. Unknown names raise NotFound with
    close names (registered and curated) as the hint.
    """
    if isinstance(ref_or_spec, EnvironmentSpec):
        return ref_or_spec
    if isinstance(ref_or_spec, Mapping):
        return spec_from_inline(ref_or_spec, base_dir or Path.cwd())
    ref = parse_reference(str(ref_or_spec))
    if ref.registry:
        return curated.get_curated(ref.name, ref.version)
    registered: list[str] = []
    if store is not None:
        registered = sorted({s.name for s in store.list_environments()})
        if ref.name in registered:
            return store.get_environment(ref.name, ref.version)  # NotFound names its versions
    if curated.canonical_name(ref.name) is not None:
        return curated.get_curated(ref.name, ref.version)
    raise curated.unknown_curated(ref.name, registered)


def list_all_environments(store: Any) -> list[EnvironmentSpec]:
    """Every registered version, then the curated environments."""
    registered = store.list_environments() if store is not None else []
    return [*registered, *(curated.curated_specs()[n] for n in curated.curated_names())]


def same_build(a: EnvironmentSpec, b: EnvironmentSpec) -> bool:
    """True if two specs describe the same environment apart from name/version/curated."""
    skip = {"name", "version", "curated", "conda_source", "pip_source"}
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(EnvironmentSpec) if f.name not in skip)


def register_environment(store: Any, spec: EnvironmentSpec, *, reuse_identical: bool = False) -> EnvironmentSpec:
    """Register `spec` (next version, or spec.version if free). With `reuse_identical` (what
    `env.register(ws)` does, as in Azure ML), an unchanged environment returns its latest
    registered version instead of adding one."""
    check_registrable_name(spec.name)
    if reuse_identical and spec.version is None:
        try:
            latest = store.get_environment(spec.name)
        except NotFound:
            latest = None
        if latest is not None and same_build(latest, spec):
            return latest
    return store.add_environment(spec)
