"""YAML in and out for the whole engine (only engine.specs imports PyYAML): read a file keeping the
line of every value, so errors can name file, line and key; `load` and `dump` for plain text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.errors import InvalidSpec, NotFound

Lines = dict[tuple[Any, ...], int]


def load_yaml_with_lines(path: Path) -> tuple[Any, Lines]:
    """Parse `path`; returns (data, {key path: 1-based line}). Malformed YAML -> InvalidSpec(file:line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound(f"{path} does not exist", "check the path given to -f") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSpec(f"cannot read the file: {exc}", file=str(path)) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidSpec(
            f"malformed YAML: {problem}" + (f" (column {mark.column + 1})" if mark else ""),
            "fix the indentation or quoting on that line",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from exc
    lines: Lines = {}
    if node is None:
        return None, lines
    return _convert(node, (), lines, path), lines


def _convert(node: yaml.Node, at: tuple[Any, ...], lines: Lines, path: Path) -> Any:
    lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(  # scalars: let PyYAML resolve the tag (int, bool, ...)
                ""
            ).construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key in out:
                raise InvalidSpec(f"the key {key!r} appears twice", "keep one of them",
                                  file=str(path), line=key_node.start_mark.line + 1, field=str(key))
            lines[(*at, key, "__key__")] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*at, key), lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*at, i), lines, path) for i, item in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node)


def line_of(lines: Lines, loc: tuple[Any, ...], *, key: bool = False) -> int | None:
    """The line of the deepest known prefix of `loc`."""
    loc = tuple(loc)
    if key and (*loc, "__key__") in lines:
        return lines[(*loc, "__key__")]
    for end in range(len(loc), -1, -1):
        if key and end and (*loc[:end], "__key__") in lines:
            return lines[(*loc[:end], "__key__")]
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


class Where:
    """Where a key of the mapping being read sits (file, line and its path under `at`), for errors
    that name them. No `source`: the mapping came from options or code, not a file."""

    def __init__(self, source: str | None, lines: Lines | None, at: tuple[Any, ...] = ()) -> None:
        self.source = source
        self.lines = lines or {}
        self.at = at

    def line(self, *loc: Any, key: bool = False) -> int | None:
        line = line_of(self.lines, (*self.at, *loc), key=key) if self.lines else None
        if line is None and self.source and not self.at:
            return 1  # a whole file (e.g. an empty one) is wrong: point at its start
        return line

    def error(self, message: str, hint: str | None, *loc: Any, key: bool = False) -> InvalidSpec:
        dotted = ".".join(str(p) for p in (*self.at, *loc)) or None
        return InvalidSpec(message, hint, file=self.source, line=self.line(*loc, key=key), field=dotted)

    def not_found(self, message: str, hint: str, *loc: Any) -> NotFound:
        line = self.line(*loc)
        where = f"{self.source}:{line}: " if self.source and line else (f"{self.source}: " if self.source else "")
        return NotFound(where + message, hint)

    def error_at_start(self, message: str, hint: str | None) -> InvalidSpec:
        """An error about the file as a whole: its first line."""
        return InvalidSpec(message, hint, file=self.source, line=1 if self.source else None)


def load(text: str) -> Any:
    """Parse YAML text (safe tags only)."""
    return yaml.safe_load(text)


def dump(data: Any) -> str:
    """`data` as block-style YAML, keys in the order given."""
    text: str = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    return text


def env_str(value: Any) -> str:
    """A YAML scalar as an environment variable's value: true/false as YAML writes them."""
    return str(value).lower() if isinstance(value, bool) else str(value)
