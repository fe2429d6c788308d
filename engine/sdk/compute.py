"""`ComputeTarget`: the built-in `local` and `docker` targets."""

from __future__ import annotations

from typing import Any

from engine.errors import NotFound


class ComputeTarget:
    def __init__(self, workspace: Any, name: str) -> None:
        name = name.removeprefix("azureml:")
        if name not in ("local", "docker"):
            raise NotFound(f"unknown compute target {name!r}",
                           "use 'local' (a process here) or 'docker' (the local Docker daemon)")
        self.workspace = workspace
        self.name = name

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r})"
