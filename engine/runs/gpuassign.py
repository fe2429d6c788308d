"""Which GPUs a run gets: its request (`resources.gpus`, else the compute target's `gpus:`) turned
into GPUs of the machine it runs on, taken from that machine's lease table
(engine.compute.gpupool), waiting Queued while they are taken.

- ``gpus: N`` takes N free GPUs; ``gpus: all`` (-1) takes every GPU of the machine;
  ``gpus: "device=0,2"`` takes exactly those. A run waits, in submission order, until they are free.
- ``gpus: 0`` hides every GPU (``CUDA_VISIBLE_DEVICES=""``); no request leaves the script as it was.

The machine is this one for `local` and `docker` targets (containers of the local daemon use its
GPUs), the host for `ssh` targets. The run sees its GPUs through ``CUDA_VISIBLE_DEVICES``
(nvidia-smi's numbering, so ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` too), and in a container through the
Docker device request of those device ids. A request the machine can never meet (more GPUs than it
has, an index it lacks, GPUs where nvidia-smi finds none) fails the run at once, saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from engine.compute.gpupool import LOCAL_POOL, Claim, GpuPool, this_process
from engine.compute.gpus import GpuInventory, local_gpus
from engine.compute.local import LocalProcess, ProcessGroup
from engine.errors import LaunchFailed
from engine.runtime.launchspec import LaunchSpec

__all__ = ["GpuAssigner", "apply_assignment", "claim_of", "script_pids", "ssh_pool_key"]

POLL_SECONDS = 0.25
CANCEL_CHECK_SECONDS = 0.5


def claim_of(gpus: int | str | None, indices: list[int]) -> Claim | None:
    """The claim of a (normalised) request on a machine with GPUs `indices`; None: nothing to
    take (no request, or 0). LaunchFailed when the machine can never meet it."""
    if gpus is None or gpus == 0:
        return None
    if gpus == -1:
        return Claim(ids=tuple(indices))
    if isinstance(gpus, int):
        return Claim(count=gpus)
    text = str(gpus).removeprefix("device=")
    ids = [d.strip() for d in text.split(",") if d.strip()]
    if not all(d.isdigit() for d in ids):  # UUIDs or MIG ids: passed on as given
        return None
    return Claim(ids=tuple(int(d) for d in ids))


def ssh_pool_key(address: str) -> str:
    """The lease table of the SSH host `user@host:port` (LOCAL_POOL is this machine's)."""
    return f"ssh-{address}"


class GpuAssigner:
    """The GPU side of one run's supervisor: wait for the GPUs, hand them back."""

    def __init__(
        self, spec: LaunchSpec, submitted: float, note: Callable[[str], None], log: Callable[[str], None]
    ) -> None:
        self.spec = spec
        self.submitted = submitted
        self.note = note  # a [trainyard] line in the driver log
        self.log = log
        self.pool: GpuPool | None = None
        self.where = "this machine"
        self.assigned: list[int] | None = None

    def inventory(self) -> GpuInventory:
        placement = self.spec.placement
        if placement.compute == "ssh":
            from engine.compute.ssh import SshTarget  # paramiko: only runs on SSH targets load it
            from engine.compute.sshprobe import ssh_gpus

            target = SshTarget.from_config(str(placement.compute_target), placement.ssh or {})
            self.pool = GpuPool(ssh_pool_key(target.address))
            self.where = f"{target.hostname} (compute target {placement.compute_target})"
            return ssh_gpus(target)
        self.pool = GpuPool(LOCAL_POOL)
        return local_gpus()

    def wait(self, cancelled: Callable[[], bool]) -> list[int] | None:
        """The GPU indices the run may use ([] for `gpus: 0`), or None: nothing to assign (no
        request, or ids nvidia-smi does not number). Blocks while they are taken; returns None
        as soon as `cancelled()` says so. LaunchFailed when the request can never be met."""
        request = self.spec.placement.gpus
        if request is None:
            return None
        if request == 0:
            return []
        inventory = self.inventory()
        assert self.pool is not None
        indices = [g.index for g in inventory.gpus]
        claim = claim_of(request, indices)
        if claim is None:
            return None
        if not indices:
            if self.spec.placement.compute == "docker":  # the daemon has the last word on its GPUs
                self.note(
                    f"no GPU inventory on {self.where} ({inventory.note}): the request goes to "
                    "Docker as it is, without an assignment"
                )
                return None
            raise LaunchFailed(
                f"the job asks for {claim.describe()}, but nvidia-smi finds no GPUs on "
                f"{self.where} ({inventory.note})",
                "remove `resources.gpus` from the job, or run it on a compute target with GPUs",
            )
        self._check_possible(claim, indices)
        holder = this_process(self.spec.run_name, self.submitted)
        said = False
        next_check = 0.0
        while True:
            taken = self.pool.try_acquire(holder, claim, indices)
            if taken is not None:
                self.assigned = taken
                if said:
                    self.note(f"{claim.describe()} free on {self.where}: starting")
                self.note(
                    f"assigned GPU{'s' if len(taken) != 1 else ''} {', '.join(map(str, taken))} "
                    f"of {self.where} (CUDA_VISIBLE_DEVICES={','.join(map(str, taken))})"
                )
                return taken
            if not said:
                said = True
                self.note(
                    f"queued: waiting for {claim.describe()} on {self.where}; {self._describe_pool(indices)}"
                )
            now = time.monotonic()
            if now >= next_check:
                next_check = now + CANCEL_CHECK_SECONDS
                if cancelled():
                    self.release()
                    return None
            time.sleep(POLL_SECONDS)

    def _check_possible(self, claim: Claim, indices: list[int]) -> None:
        if claim.ids:
            missing = [i for i in claim.ids if i not in indices]
            if missing:
                raise LaunchFailed(
                    f"the job asks for GPU {', '.join(map(str, missing))}, which {self.where} does "
                    f"not have (its GPUs: {', '.join(map(str, indices))})",
                    "ask for GPUs by count (`resources.gpus: 2`) or by an index it has",
                )
        elif claim.count > len(indices):
            raise LaunchFailed(
                f"the job asks for {claim.describe()}, but {self.where} has {len(indices)}",
                f"ask for at most {len(indices)}, or run it on a compute target with more GPUs",
            )

    def _describe_pool(self, indices: list[int]) -> str:
        assert self.pool is not None
        state = self.pool.state()
        by_run: dict[str, list[int]] = {}
        for i, h in sorted(state.leases.items()):
            by_run.setdefault(h.run, []).append(i)
        free = len([i for i in indices if i not in state.leases])
        held = "; ".join(f"GPU {', '.join(map(str, ids))} used by {run}" for run, ids in by_run.items())
        ahead = [
            h.run
            for h, _c in state.queue
            if h.run != self.spec.run_name and (h.submitted, h.run) < (self.submitted, self.spec.run_name)
        ]
        text = f"{free} of {len(indices)} free" + (f" ({held})" if held else "")
        if ahead:
            text += f", {len(ahead)} run{'s' if len(ahead) > 1 else ''} queued ahead ({', '.join(ahead)})"
        return text

    def keep_with(self, pids: list[int]) -> None:
        """The script's processes hold the GPUs too (they outlive a supervisor killed with -9)."""
        if self.pool is not None and self.assigned:
            self.pool.add_processes(self.spec.run_name, pids)

    def release(self) -> None:
        if self.pool is not None:
            freed = self.pool.release(self.spec.run_name)
            if freed:
                self.log(f"gave back GPU {', '.join(map(str, freed))}")


def script_pids(handle: Any) -> list[int]:
    """The processes of this machine that run a run's script, which keep its GPUs while they live:
    a process (group)'s, or a container's main process when the Docker daemon is this machine's
    (its pid is then one of ours). None for an SSH host's script."""
    if isinstance(handle, LocalProcess):
        return [handle.pid]
    if isinstance(handle, ProcessGroup):
        return [p.pid for p in handle.popens]
    container = getattr(handle, "container", None)
    if container is None:
        return []
    base_url = str(getattr(getattr(handle.client, "api", None), "base_url", ""))
    if not base_url.startswith("http+docker://local"):  # a daemon elsewhere: its pids are not ours
        return []
    container.reload()
    pid = int((container.attrs.get("State") or {}).get("Pid") or 0)
    return [pid] if pid > 0 else []


def apply_assignment(spec: LaunchSpec, gpus: list[int]) -> LaunchSpec:
    """The launch spec of a run that got `gpus`: CUDA_VISIBLE_DEVICES for a process, the device
    ids for a container (inside it they are numbered from 0: Docker drops the variable)."""
    visible = ",".join(map(str, gpus))
    env = {**spec.env, "CUDA_VISIBLE_DEVICES": visible}
    if gpus:
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # CUDA's own order is fastest-first, not nvidia-smi's
    placement = replace(spec.placement, gpus=f"device={visible}" if gpus else 0)
    return spec.with_changes(env=env, placement=placement)
