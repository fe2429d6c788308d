"""`ComputeTarget` and `AmlCompute`: the built-in `local` and `docker` targets, those created in the
workspace (`trainyard compute create`), and Azure ML clusters created by a control script, which
become local targets of this machine (engine.compute.vmsizes; docs/compute.md)."""

from __future__ import annotations

from typing import Any

from engine.compute.vmsizes import AZURE_GPUS, canonical_size
from engine.errors import NotFound


class ComputeTargetException(NotFound):
    """`azureml.core.compute_target.ComputeTargetException`: raised for a name the workspace has
    no target for (the seeds' `try: ComputeTarget(ws, name) except ComputeTargetException: create`)."""


class ComputeTarget:
    """`ComputeTarget(workspace=ws, name="cpu-cluster")`: ComputeTargetException (listing the known
    targets) when the workspace has no such target."""

    def __init__(self, workspace: Any, name: str) -> None:
        try:
            target = workspace.engine.get_compute_target(name)
        except NotFound as exc:
            raise ComputeTargetException(exc.message, exc.hint) from None
        self.workspace = workspace
        self.name = target.name
        self.type = target.type
        self.description = target.description
        self.config = dict(target.config)
        self.builtin = target.builtin
        self.provisioning_state = "Succeeded"
        self.vm_size: str | None = self.config.get("vm_size")
        self.max_nodes: int | None = self.config.get("max_nodes")
        self.min_nodes: int | None = self.config.get("min_nodes")

    @staticmethod
    def create(workspace: Any, name: str, provisioning_configuration: Any) -> ComputeTarget:
        """Create a target from `AmlCompute.provisioning_configuration(...)`: a local target of this
        machine (a note says what it cannot honour, e.g. GPUs this machine lacks)."""
        config = provisioning_configuration
        if not isinstance(config, AmlComputeProvisioningConfiguration):
            kind = type(config).__name__
            raise ComputeTargetException(
                f"ComputeTarget.create got a {kind}: Trainyard creates AmlCompute clusters only (as targets "
                "of this machine)",
                "pass AmlCompute.provisioning_configuration(vm_size=..., max_nodes=...), or create an SSH "
                "or Docker target with `trainyard compute create -f compute.yml`",
            )
        made = workspace.engine.create_amlcompute_target(
            name,
            vm_size=config.vm_size,
            min_nodes=config.min_nodes,
            max_nodes=config.max_nodes,
            idle_seconds_before_scaledown=config.idle_seconds_before_scaledown,
            description=config.description,
        )
        if made.note:
            print(f"Note: {made.note}", flush=True)
        return ComputeTarget(workspace, made.target.name)

    @staticmethod
    def list(workspace: Any) -> list[ComputeTarget]:
        """The built-in targets and those created in the workspace."""
        return [ComputeTarget(workspace, t.name) for t in workspace.engine.list_compute_targets()]

    def get_status(self) -> str:
        return self.provisioning_state

    def refresh_state(self) -> None:
        """Nothing changes behind a local target's back."""

    def wait_for_completion(
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: int = 20,
        is_delete_operation: bool = False,
    ) -> None:
        """Nothing to wait for: a target here is ready when it exists."""
        if show_output:
            limit = self.config.get("max_concurrent_runs")
            runs = f", up to {limit} runs at a time" if limit else ""
            size = f", {self.vm_size}" if self.vm_size else ""
            print(
                f"Compute target {self.name} ({self.type}{size}{runs}): {self.provisioning_state}", flush=True
            )

    def delete(self) -> None:
        self.workspace.engine.delete_compute_target(self.name)

    def serialize(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description, **self.config}

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r}, type={self.type!r})"


class AmlComputeProvisioningConfiguration:
    """What `AmlCompute.provisioning_configuration(...)` returns: the cluster's requested shape."""

    def __init__(
        self,
        vm_size: str = "",
        min_nodes: int = 0,
        max_nodes: int = 4,
        idle_seconds_before_scaledown: int | None = None,
        description: str = "",
        **_cloud: Any,
    ) -> None:
        self.vm_size = vm_size or None
        self.min_nodes = min_nodes
        self.max_nodes = max_nodes
        self.idle_seconds_before_scaledown = idle_seconds_before_scaledown
        self.description = description or ""
        # vm_priority, admin_username, vnet_*, tags, location, ...: cloud settings with no meaning here.
        self.ignored = sorted(_cloud)

    def __repr__(self) -> str:
        return (
            f"AmlComputeProvisioningConfiguration(vm_size={self.vm_size!r}, min_nodes={self.min_nodes}, "
            f"max_nodes={self.max_nodes})"
        )


class AmlCompute(ComputeTarget):
    """An Azure ML compute cluster; here, a local target (engine.compute.vmsizes)."""

    @staticmethod
    def provisioning_configuration(
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int = 4,
        idle_seconds_before_scaledown: int | None = None,
        description: str | None = None,
        **cloud: Any,
    ) -> AmlComputeProvisioningConfiguration:
        return AmlComputeProvisioningConfiguration(
            vm_size,
            min_nodes,
            max_nodes,
            idle_seconds_before_scaledown,
            description or "",
            vm_priority=vm_priority,
            **cloud,
        )

    @staticmethod
    def supported_vmsizes(workspace: Any, location: str | None = None) -> list[dict[str, Any]]:
        """The sizes Trainyard knows, with their GPUs (what `vm_size` maps to here)."""
        return [{"name": canonical_size(size), "gpus": gpus} for size, gpus in AZURE_GPUS.items()]
