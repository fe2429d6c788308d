"""Environment references -> specs: registered environments of the workspace first, then the
curated ones. Used by the CLI, the SDK and job submission.

References, as Azure ML writes them::

    NAME                     NAME:VERSION              NAME@latest
    azureml:NAME             azureml:NAME:VERSION      azureml:NAME@latest
    azureml://registries/azureml/environments/NAME/labels/latest
    azureml://registries/azureml/environments/NAME/versions/N
    azureml://.../workspaces/W/environments/NAME/versions/N   (a workspace asset id)

A registry reference (`azureml://registries/...`) names a curated environment only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from engine.environments import curated
from engine.environments.spec import EnvironmentSpec
from engine.errors import InvalidSpec, NotFound
from engine.names import check_registrable_name
from engine.specs.environment import spec_from_inline

_URI = re.compile(r"^azureml://(?P<scope>.*?)/?environments/(?P<name>[^/]+)"
                  r"(?:/(?:(?P<kind>labels|versions)/(?P<tag>[^/]+)))?/?$")


@dataclass(frozen=True)
class EnvironmentRef:
    name: str
    version: int | None = None  # None: the latest
    registry: bool = False  # azureml://registries/...: curated only

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version is not None else f"{self.name}@latest"


def parse_reference(ref: str) -> EnvironmentRef:
    """Split an environment reference into name, version (None = latest) and registry flag."""
    text = ref.strip()
    if not text:
        raise InvalidSpec("an empty environment reference", "give NAME, NAME:VERSION or NAME@latest")
    if text.startswith("azureml://"):
        m = _URI.match(text)
        if not m:
            raise InvalidSpec(f"environment reference {ref!r} is not one Trainyard understands",
                              "use azureml://registries/azureml/environments/NAME/labels/latest "
                              "(or .../versions/N), or azureml:NAME@latest")
        registry = m.group("scope").startswith("registries/")
        version = None
        if m.group("kind") == "versions":
            version = _version(m.group("tag"), ref)
        elif m.group("kind") == "labels" and m.group("tag") != "latest":
            raise InvalidSpec(f"unknown label {m.group('tag')!r} in {ref!r}", "only the label `latest` exists")
        return EnvironmentRef(m.group("name"), version, registry)
    text = text.removeprefix("azureml:")
    if "@" in text:
        name, _, label = text.partition("@")
        if label != "latest":
            raise InvalidSpec(f"unknown label {label!r} in {ref!r}", "only @latest is supported (or NAME:VERSION)")
        return EnvironmentRef(_name(name, ref))
    name, sep, version = text.partition(":")
    return EnvironmentRef(_name(name, ref), _version(version, ref) if sep else None)


def _name(name: str, ref: str) -> str:
    if not name or "/" in name or ":" in name:
        raise InvalidSpec(f"environment reference {ref!r} has no usable name",
                          "use NAME, NAME:VERSION or NAME@latest")
    return name


def _version(text: str, ref: str) -> int:
    if not text.isdigit():
        raise InvalidSpec(f"version {text!r} in {ref!r} is not a number", "use NAME:VERSION, e.g. my-env:2")
    return int(text)


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
