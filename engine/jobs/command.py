"""Substitute `${{inputs.x}}` (and the older `{inputs.x}`) in a command job's command line."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidSpec

_REF = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z_][\w.-]*)\s*\}\}|\{(inputs|outputs)\.([A-Za-z_][\w.-]*)\}")


def referenced_names(command: str) -> list[tuple[str, str]]:
    return [(m.group(1) or m.group(3), m.group(2) or m.group(4)) for m in _REF.finditer(command)]


def render_command(
    command: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, str] | None = None,
    *,
    source: str | None = None,
) -> str:
    """Replace references with shell-quoted values: each reaches the script as exactly one
    argument, unchanged, whatever characters it holds."""
    outputs = outputs or {}

    def value_of(match: re.Match[str]) -> str:
        kind = match.group(1) or match.group(3)
        name = match.group(2) or match.group(4)
        table: Mapping[str, Any] = inputs if kind == "inputs" else outputs
        if kind == "search_space":
            table = inputs
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
        return shlex.quote(str(value))

    return _REF.sub(value_of, command)
