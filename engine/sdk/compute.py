"""`ComputeTarget`: this version has the built-in `local` target."""

from __future__ import annotations

from typing import Any

from engine.errors import NotFound


class ComputeTarget:
    def __init__(self, workspace: Any, name: str) -> None:
        name = name.removeprefix("azureml:")
        if name != "local":
            raise NotFound(f"unknown compute target {name!r}", "use 'local' to run on this machine")
        self.workspace = workspace
        self.name = name

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r})"
