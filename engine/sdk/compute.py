"""`ComputeTarget`: the built-in `local` and `docker` targets, and those created in the workspace
(`trainyard compute create`)."""

from __future__ import annotations

from typing import Any


class ComputeTarget:
    """`ComputeTarget(workspace=ws, name="cpu-cluster")`: NotFound (listing the known targets)
    when the workspace has no such target."""

    def __init__(self, workspace: Any, name: str) -> None:
        target = workspace.engine.get_compute_target(name)
        self.workspace = workspace
        self.name = target.name
        self.type = target.type
        self.description = target.description
        self.config = dict(target.config)
        self.builtin = target.builtin
        self.provisioning_state = "Succeeded"

    def get_status(self) -> str:
        return self.provisioning_state

    def wait_for_completion(self, show_output: bool = False, **_ignored: Any) -> None:
        """Nothing to wait for: a target here is ready when it exists."""
        if show_output:
            print(f"Compute target {self.name} ({self.type}): {self.provisioning_state}")

    def serialize(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description, **self.config}

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r}, type={self.type!r})"
