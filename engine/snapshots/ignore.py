"""Ignore rules (``.amlignore`` / ``.gitignore``, per folder) and the secret-file guard.

Semantics follow git: each folder's ignore file applies to paths relative to that folder, a
deeper file overrides a shallower one (the last matching pattern of the deepest file that has
one decides), and nothing inside an ignored folder can be re-included. In each folder an
``.amlignore`` replaces that folder's ``.gitignore`` (as in Azure ML). Ignore files above the
snapshot folder, ``.git/info/exclude`` and git's global excludes are not read: a snapshot is
defined by the folder alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pathspec

IGNORE_FILES = (".amlignore", ".gitignore")


class IgnoreRules:
    """One compiled ignore file, with a fast path for the paths none of its patterns match."""

    __slots__ = ("spec", "union")

    def __init__(self, spec: pathspec.GitIgnoreSpec) -> None:
        self.spec = spec
        self.union = _union_regex(spec)

    def check(self, rel: str) -> bool | None:
        """True: ignored; False: re-included by a ``!`` pattern; None: no pattern matches."""
        if self.union is not None and self.union.search(rel) is None:
            return None
        return self.spec.check_file(rel).include


def _union_regex(spec: pathspec.GitIgnoreSpec) -> re.Pattern[str] | None:
    """One regex matching whatever any pattern of ``spec`` matches, or None when not buildable.

    Most paths match no pattern at all; one search of the union tells so at a fraction of the
    cost of ``check_file``, which tries every pattern. Paths the union matches still go through
    ``check_file``, so the result is pathspec's in every case.
    """
    parts: list[str] = []
    flags: set[int] = set()
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if pattern.include is None:
            continue
        if not isinstance(regex, re.Pattern) or not isinstance(regex.pattern, str):
            return None
        flags.add(regex.flags)
        # Group names may repeat across patterns, which one regex does not allow.
        parts.append("(?:" + re.sub(r"\(\?P<\w+>", "(?:", regex.pattern) + ")")
    if len(flags) > 1 or "(?P=" in "".join(parts):
        return None
    try:
        return re.compile("|".join(parts), flags.pop() if flags else 0)
    except re.error:
        return None


@dataclass(frozen=True, slots=True)
class IgnoreLevel:
    """The ignore rules of one folder; ``prefix`` is that folder's path plus ``/`` (or "")."""

    prefix: str
    rules: IgnoreRules


def load_ignore_file(path: str, rel_name: str, warn: Callable[[str], None]) -> IgnoreRules | None:
    """Compile one ignore file; None when it has no patterns or cannot be read.

    Lines git would reject are skipped with a warning rather than failing the snapshot,
    because git itself skips them silently.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        warn(f"{rel_name}: could not be read ({exc.strerror}); its rules were not applied")
        return None
    lines = raw.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
    except ValueError:  # pathspec's invalid-pattern errors subclass ValueError in every version
        good = []
        for number, line in enumerate(lines, start=1):
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except ValueError:
                warn(f"{rel_name}:{number}: invalid pattern {line!r} skipped")
            else:
                good.append(line)
        spec = pathspec.GitIgnoreSpec.from_lines(good)
    # A file of only comments and blank lines compiles to no-op patterns: skip matching against it.
    return IgnoreRules(spec) if any(p.include is not None for p in spec.patterns) else None


def make_matcher(levels: tuple[IgnoreLevel, ...]) -> Callable[[str], bool]:
    """A function telling whether a path under these levels is ignored (built once per folder).

    The common case, a single ignore file, gets a specialised closure: the walk calls it for
    every entry.
    """
    if len(levels) != 1:
        return lambda rel: is_ignored(levels, rel)
    level = levels[0]
    cut = len(level.prefix)
    union = level.rules.union
    check = level.rules.spec.check_file

    def one_level(rel: str) -> bool:
        rel = rel[cut:]
        if union is not None and union.search(rel) is None:
            return False
        return check(rel).include is True

    return one_level


def is_ignored(levels: tuple[IgnoreLevel, ...], rel: str) -> bool:
    """Whether ``rel`` (folders end with ``/``) is ignored by the stack of ignore files above it."""
    for level in reversed(levels):
        include = level.rules.check(rel[len(level.prefix):])
        if include is not None:
            return include
    return False


# --- secrets -------------------------------------------------------------------------------

_SECRET_NAMES = {
    ".env": "an environment file",
    ".netrc": "a login-password file",
    ".pypirc": "a package-index credentials file",
    ".git-credentials": "a git credential store",
    "credentials.json": "a credentials file",
    "id_rsa": "an SSH private key",
    "id_dsa": "an SSH private key",
    "id_ecdsa": "an SSH private key",
    "id_ed25519": "an SSH private key",
}
_KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx")
_SSH_KEY_SUFFIXES = ("_rsa", "_dsa", "_ecdsa", "_ed25519")


# Pre-test matching every name below at one regex search per file.
_MAYBE_SECRET = re.compile(
    r"^(?:\.env(?:\..*)?|\.netrc|\.pypirc|\.git-credentials|credentials\.json|id_(?:rsa|dsa|ecdsa|ed25519))$"
    r"|(?i:\.(?:pem|key|p12|pfx)|_(?:rsa|dsa|ecdsa|ed25519))$",
    re.DOTALL,
)


def secret_reason(name: str) -> str | None:
    """Why a file called ``name`` looks like a secret, or None."""
    if _MAYBE_SECRET.search(name) is None:
        return None
    reason = _SECRET_NAMES.get(name)
    if reason is not None:
        return reason
    if name.startswith(".env."):
        return "an environment file"
    lower = name.lower()
    if lower.endswith(_KEY_SUFFIXES):
        return "a private key or certificate bundle"
    if lower.endswith(_SSH_KEY_SUFFIXES):
        return "an SSH private key"
    return None
