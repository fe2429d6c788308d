"""How the sweep YAML parsers (search_space, early_termination) word their errors: the error itself
(message, hint and where under its YAML key), the option a typo meant, a value as a user wrote it."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence


class SweepYamlError(ValueError):
    """Something under one of a sweep's YAML keys is invalid; `path` is relative to that key."""

    def __init__(self, message: str, hint: str, path: tuple[str, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}"


def closest(word: str, options: Sequence[str]) -> list[str]:
    """The option a typo most likely meant (a shortened name counts: max -> max_value)."""
    word = word.lower()
    if len(word) >= 3:
        for option in options:
            if word in option:
                return [option]
    return difflib.get_close_matches(word, options, n=1)


def describe(value: object) -> str:
    """A YAML value in words: `true`, `the text '1e-3'`, `a mapping`, ..."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
