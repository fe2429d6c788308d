"""The compute manager: the targets a job can name, whether they can take a run now, this machine's GPUs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.compute.gpupool import LOCAL_POOL, GpuPool
from engine.compute.gpus import GpuInventory, local_gpus
from engine.compute.status import ComputeState, docker_state, target_state
from engine.compute.targets import create_compute_target, resolve_compute
from engine.compute.vmsizes import AmlComputeMapping, amlcompute_target
from engine.errors import LaunchFailed
from engine.runs.gpuassign import ssh_pool_key

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["ComputeManager", "GpuReport"]


@dataclass(frozen=True)
class GpuReport:
    """A target's machine's GPUs, which run holds each (index -> run name), and the runs waiting."""

    inventory: GpuInventory
    used_by: dict[int, str] = field(default_factory=dict)
    waiting: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """'0: NVIDIA A100 (1.2 / 80.0 GiB, 35%) - used by run_x' per GPU, or why there are none."""
        if not self.inventory.gpus:
            return [self.inventory.summary]
        return [
            g.summary + (f" - used by {self.used_by[g.index]}" if g.index in self.used_by else " - free")
            for g in self.inventory.gpus
        ]


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

    def create_amlcompute(self, name: str, *, vm_size: str | None, min_nodes: int = 0, max_nodes: int = 4,
                          idle_seconds_before_scaledown: int | None = None,
                          description: str = "") -> AmlComputeMapping:
        """An Azure ML compute cluster as a local target of this machine (engine.compute.vmsizes):
        the registered target, and the one line that says what this machine cannot honour."""
        mapping = amlcompute_target(name, vm_size=vm_size, min_nodes=min_nodes, max_nodes=max_nodes,
                                    idle_seconds_before_scaledown=idle_seconds_before_scaledown,
                                    description=description, gpus_here=len(local_gpus().gpus))
        return AmlComputeMapping(create_compute_target(self.store, mapping.target), mapping.note)

    def delete_target(self, name: str) -> E.ComputeTarget:
        return self.store.delete_compute_target(name)

    def replace_target(self, old_name: str, target: E.ComputeTarget) -> E.ComputeTarget:
        """Edit a registered target: `old_name` becomes `target` (renamed too, if its name differs).
        The old one is put back if the new one cannot be registered."""
        old = self.store.get_compute_target(old_name)
        self.store.delete_compute_target(old_name)
        try:
            return create_compute_target(self.store, target)
        except BaseException:
            self.store.add_compute_target(old.name, old.type, old.config, old.description)
            raise

    def states(self, targets: list[E.ComputeTarget] | None = None) -> dict[str, ComputeState]:
        """name -> state; Docker is pinged once (a few seconds at most)."""
        targets = self.list_targets() if targets is None else targets
        docker = docker_state() if any(t.type == "docker" for t in targets) else None
        return {t.name: target_state(t, docker) for t in targets}

    def local_gpus(self) -> GpuInventory:
        """This machine's GPUs (nvidia-smi; none when it is absent)."""
        return local_gpus()

    def gpu_report(self, target: E.ComputeTarget, inventory: GpuInventory | None = None) -> GpuReport:
        """The GPUs runs on `target` draw from: this machine's (local and Docker targets) or the SSH
        host's (asked over SSH: seconds; an unreachable host is an inventory saying why), with
        their leases. `inventory`: one already asked (the leases are read anyway)."""
        if target.type == "ssh":
            from engine.compute.ssh import SshTarget  # paramiko: only SSH targets load it
            from engine.compute.sshprobe import ssh_gpus

            ssh = SshTarget.from_config(target.name, target.config)
            if inventory is None:
                try:
                    inventory = ssh_gpus(ssh)
                except LaunchFailed as exc:
                    inventory = GpuInventory((), f"could not ask {ssh.hostname}: {exc.message}")
            pool = GpuPool(ssh_pool_key(ssh.address))
        else:
            inventory, pool = inventory or local_gpus(), GpuPool(LOCAL_POOL)
        state = pool.state()
        return GpuReport(
            inventory, {i: h.run for i, h in state.leases.items()}, tuple(h.run for h, _c in state.queue)
        )

    def slurm_overview(self, target: E.ComputeTarget) -> Any:
        """A Slurm target's partitions, nodes, GPUs and the user's queue, asked now
        (engine.compute.slurm.ClusterOverview; an unreachable cluster is one saying why)."""
        from engine.compute.slurm.cluster import cluster_overview  # paramiko for SSH login nodes

        return cluster_overview(target)

    # ------------------------------------------------------------------ adding SSH hosts
    def ssh_config_hosts(self) -> list[str]:
        """The host aliases of ~/.ssh/config, to pick an SSH target's host from."""
        from engine.compute.sshprobe import ssh_config_hosts  # paramiko reads the file

        return ssh_config_hosts()

    def ssh_host_key(self, name: str, config: dict[str, Any]) -> Any:
        """The host key an SSH target's server presents (engine.compute.sshprobe.HostKey)."""
        from engine.compute.ssh import SshTarget  # paramiko: only SSH targets load it
        from engine.compute.sshprobe import host_key

        return host_key(SshTarget.from_config(name, config))

    def accept_ssh_host_key(self, name: str, config: dict[str, Any], key: Any) -> str:
        """Trust `key` for the target from now on; returns the known_hosts file written."""
        from engine.compute.ssh import SshTarget
        from engine.compute.sshprobe import accept_host_key

        return accept_host_key(SshTarget.from_config(name, config), key)

    def probe_ssh(
        self, name: str, config: dict[str, Any], *, password: str | None = None, passphrase: str | None = None
    ) -> Any:
        """Log in and report python, GPUs, Docker and free disk (engine.compute.sshprobe.HostReport).
        The password or passphrase is used for this login only."""
        from engine.compute.ssh import SshTarget
        from engine.compute.sshprobe import probe_host

        return probe_host(SshTarget.from_config(name, config), password=password, passphrase=passphrase)
