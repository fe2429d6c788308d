"""The pipeline being built: `@pipeline` functions run inside one, and each component called
while it is open adds its step to it. A stack, so that building is re-entrant and per thread."""

from __future__ import annotations

import threading
from typing import Any

_local = threading.local()


class Builder:
    def __init__(self) -> None:
        self.steps: list[Any] = []

    def add(self, step: Any) -> None:
        self.steps.append(step)


def current_builder() -> Builder | None:
    stack = getattr(_local, "stack", [])
    return stack[-1] if stack else None


def push() -> Builder:
    builder = Builder()
    _local.stack = [*getattr(_local, "stack", []), builder]
    return builder


def pop() -> None:
    _local.stack = getattr(_local, "stack", [])[:-1]
