"""The compute manager: the targets a job can name, whether they can take a run now, this machine's GPUs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import entities as E
from engine.compute.gpus import GpuInventory, local_gpus
from engine.compute.status import ComputeState, docker_state, target_state
from engine.compute.targets import create_compute_target, resolve_compute

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["ComputeManager"]


class ComputeManager:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list_targets(self) -> list[E.ComputeTarget]:
        """The built-in targets (local, docker), then the registered ones by name."""
        return self.store.list_compute_targets()

    def get_target(self, name: str) -> E.ComputeTarget:
        """`local`, `docker`, `NAME` or `azureml:NAME` -> the target (NotFound lists the known ones)."""
        return resolve_compute(self.store, name)

    def create_target(self, target: E.ComputeTarget) -> E.ComputeTarget:
        return create_compute_target(self.store, target)

    def delete_target(self, name: str) -> E.ComputeTarget:
        return self.store.delete_compute_target(name)

    def states(self, targets: list[E.ComputeTarget] | None = None) -> dict[str, ComputeState]:
        """name -> state; Docker is pinged once (a few seconds at most)."""
        targets = self.list_targets() if targets is None else targets
        docker = docker_state() if any(t.type == "docker" for t in targets) else None
        return {t.name: target_state(t, docker) for t in targets}

    def local_gpus(self) -> GpuInventory:
        """This machine's GPUs (nvidia-smi; none when it is absent)."""
        return local_gpus()
