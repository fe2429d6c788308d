"""What a name a user gives (an environment, compute target, model, data asset, experiment) may
look like, checked in one place: letters, digits, `-`, `_`, `.`, starting with a letter or digit,
at most 255 characters. `:` and `@` never appear: they separate a name from its version.

Environment references, as Azure ML writes them (`parse_reference`)::

    NAME                     NAME:VERSION              NAME@latest
    azureml:NAME             azureml:NAME:VERSION      azureml:NAME@latest
    azureml://registries/azureml/environments/NAME/labels/latest
    azureml://registries/azureml/environments/NAME/versions/N
    azureml://.../workspaces/W/environments/NAME/versions/N   (a workspace asset id)

A registry reference (`azureml://registries/...`) names a curated environment only.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from engine.errors import InvalidSpec

NAME_HINT = "use letters, digits, '-', '_' and '.', starting with a letter or digit"
LENGTH_NOTE = " (at most 255 characters)"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
# Environment names may also start with `_` (as Azure ML's may).
_NAME_UNDERSCORE_FIRST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")

# Environment names with these prefixes belong to curated environments: not registrable.
RESERVED_PREFIXES = ("AzureML-", "trainyard-")


def is_valid_name(name: str | None, *, underscore_first: bool = False) -> bool:
    pattern = _NAME_UNDERSCORE_FIRST if underscore_first else _NAME
    return pattern.fullmatch(name or "") is not None


def check_name(name: str, what: str, *, reserved: Collection[str] = (), underscore_first: bool = False,
               length_note: bool = True, field: str | None = "name") -> None:
    """Raise InvalidSpec("'x' is not a valid {what} name") unless `name` is one; `reserved` names
    (built-in ones) are refused too."""
    if name in reserved:
        raise InvalidSpec(f"{name!r} is the name of a built-in {what}",
                          f"pick another name ({' and '.join(reserved)} are reserved)", field=field)
    if not is_valid_name(name, underscore_first=underscore_first):
        raise InvalidSpec(f"{name!r} is not a valid {what} name", NAME_HINT + (LENGTH_NOTE if length_note else ""),
                          field=field)


def is_reserved(name: str) -> bool:
    """Does `name` start with a curated environment's prefix (case-insensitively)?"""
    folded = name.casefold()
    return any(folded.startswith(p.casefold()) for p in RESERVED_PREFIXES)


def check_registrable_name(name: str) -> None:
    """Refuse environment names with a reserved (curated) prefix."""
    if is_reserved(name):
        prefix = next(p for p in RESERVED_PREFIXES if name.casefold().startswith(p.casefold()))
        suggestion = name[len(prefix):] or "my-env"
        raise InvalidSpec(
            f"environment names starting with {prefix!r} are reserved for curated environments: "
            f"cannot register {name!r}",
            f"pick another name, e.g. {suggestion!r} (for a changed curated environment, "
            f"env.clone('{suggestion}') in the SDK)",
            field="name",
        )


# ------------------------------------------------------------------------------ environment references
_ENV_URI = re.compile(r"^azureml://(?P<scope>.*?)/?environments/(?P<name>[^/]+)"
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
        m = _ENV_URI.match(text)
        if not m:
            raise InvalidSpec(f"environment reference {ref!r} is not one Trainyard understands",
                              "use azureml://registries/azureml/environments/NAME/labels/latest "
                              "(or .../versions/N), or azureml:NAME@latest")
        registry = m.group("scope").startswith("registries/")
        version = None
        if m.group("kind") == "versions":
            version = _ref_version(m.group("tag"), ref)
        elif m.group("kind") == "labels" and m.group("tag") != "latest":
            raise InvalidSpec(f"unknown label {m.group('tag')!r} in {ref!r}", "only the label `latest` exists")
        return EnvironmentRef(m.group("name"), version, registry)
    text = text.removeprefix("azureml:")
    if "@" in text:
        name, _, label = text.partition("@")
        if label != "latest":
            raise InvalidSpec(f"unknown label {label!r} in {ref!r}", "only @latest is supported (or NAME:VERSION)")
        return EnvironmentRef(_ref_name(name, ref))
    name, sep, number = text.partition(":")
    return EnvironmentRef(_ref_name(name, ref), _ref_version(number, ref) if sep else None)


def _ref_name(name: str, ref: str) -> str:
    if not name or "/" in name or ":" in name:
        raise InvalidSpec(f"environment reference {ref!r} has no usable name",
                          "use NAME, NAME:VERSION or NAME@latest")
    return name


def _ref_version(text: str, ref: str) -> int:
    if not text.isdigit():
        raise InvalidSpec(f"version {text!r} in {ref!r} is not a number", "use NAME:VERSION, e.g. my-env:2")
    return int(text)
