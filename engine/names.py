"""What a name a user gives (an environment, compute target, model, data asset, experiment) may
look like, checked in one place: letters, digits, `-`, `_`, `.`, starting with a letter or digit,
at most 255 characters. `:` and `@` never appear: they separate a name from its version."""

from __future__ import annotations

import re
from collections.abc import Collection

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
