"""The run handle: the one shape of a run's running script, whatever runs it.

A run's supervisor starts the script through one of the backends below and from then on only
uses this protocol (poll until it ends, terminate on cancel, wait, clean up):

- engine.compute.local.LocalProcess: a process group on this machine;
- engine.compute.local.ProcessGroup: the processes of a distributed (pytorch) run;
- engine.compute.docker.ContainerRun: a container of the local Docker daemon;
- engine.compute.ssh.SshRun: a process group on an SSH host.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["RunHandle"]


@runtime_checkable
class RunHandle(Protocol):
    # Why the run failed although its script may not have (an SSH host that stayed unreachable).
    failure: str | None
    # In a run of several processes, the one that failed first (its log says why).
    failed_rank: int | None

    def poll(self) -> int | None:
        """The exit code once the script ended, else None (never blocks for long)."""
        ...

    def wait(self, timeout: float | None = None) -> int:
        """Block until the script ends; its exit code."""
        ...

    def terminate(self, grace: float) -> int:
        """End the script: TERM, then KILL after `grace` seconds; its exit code."""
        ...

    def cleanup(self) -> int:
        """After the end: release what the run held (processes the script left, its container,
        the remote folder). Returns how many leftover processes were ended."""
        ...

    def recorded_exit_code(self, code: int) -> int:
        """The exit code as a run records it: -N when signal N ended the script."""
        ...
