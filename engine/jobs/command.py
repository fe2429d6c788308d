"""Substitute `${{inputs.x}}` (and the older `{inputs.x}`) in a command job's command line, and
keep or drop `$[[ ... ]]` optional segments (kept only when every input they name is given)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidSpec

_REF = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z_][\w.-]*)\s*\}\}|\{(inputs|outputs)\.([A-Za-z_][\w.-]*)\}")


_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)


def referenced_names(command: str) -> list[tuple[str, str]]:
    return [(m.group(1) or m.group(3), m.group(2) or m.group(4)) for m in _REF.finditer(command)]


def required_names(command: str) -> list[tuple[str, str]]:
    """The references outside `$[[ ... ]]` segments: what must be given for the command to run."""
    return referenced_names(_OPTIONAL.sub("", command))


def drop_optional_segments(command: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    """Each `$[[ ... ]]` segment: its text when every input/output it names is given, else nothing."""
    def keep(match: re.Match[str]) -> str:
        inner = match.group(1)
        for kind, name in referenced_names(inner):
            table = inputs if kind != "outputs" else outputs
            if table.get(name) is None:
                return ""
        return inner

    return _OPTIONAL.sub(keep, command)


def render_command(
    command: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, str] | None = None,
    *,
    source: str | None = None,
    search_space: Mapping[str, Any] | None = None,
) -> str:
    """Replace references with shell-quoted values: each reaches the script as exactly one
    argument, unchanged, whatever characters it holds. `${{search_space.x}}` takes a sweep
    trial's `search_space` values (without a sweep, `inputs`)."""
    outputs = outputs or {}
    command = drop_optional_segments(command, inputs if search_space is None else {**inputs, **search_space},
                                     outputs)

    def value_of(match: re.Match[str], quote: str | None = None) -> str:
        kind = match.group(1) or match.group(3)
        name = match.group(2) or match.group(4)
        table: Mapping[str, Any] = inputs if kind == "inputs" else outputs
        if kind == "search_space":
            table = inputs if search_space is None else search_space
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise InvalidSpec(
                f"the command refers to {kind}.{name}, which is not defined (defined: {known})",
                f"add `{name}:` under `{kind}:` or fix the reference",
                file=source,
                field="command",
            )
        value = table[name]
        if isinstance(value, bool):
            value = str(value).lower() if kind == "inputs" else value
        return _quote_for(str(value), quote)

    # Track the shell's quoting as we go: a reference the user wrapped in "..." or '...' must be
    # escaped for that context, or `"${{inputs.x}}"` would run `$(...)` held in the value.
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(command):
        match = _REF.match(command, i)
        if match is not None:
            out.append(value_of(match, quote))
            i = match.end()
            continue
        ch = command[i]
        if ch == "\\" and quote != "'":
            out.append(command[i:i + 2])
            i += 2
            continue
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote == ch else ch
        out.append(ch)
        i += 1
    return "".join(out)


def _quote_for(value: str, quote: str | None) -> str:
    """`value` as one literal word (or part of one) in the given shell quoting context."""
    if quote == "'":
        return value.replace("'", "'\\''")
    if quote == '"':
        for ch in ("\\", "$", "`", '"'):
            value = value.replace(ch, "\\" + ch)
        return value
    return shlex.quote(value)
