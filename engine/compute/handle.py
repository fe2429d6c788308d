"""The run handle: the one shape of a run's running script, whatever runs it.

A run's supervisor starts the script through one of the backends below and from then on only
uses this protocol (poll until it ends, terminate on cancel, wait, clean up):

- engine.compute.local.LocalProcess: a process group on this machine;
- engine.compute.local.ProcessGroup: the processes of a distributed (pytorch) run;
- engine.compute.docker.ContainerRun: a container of the local Docker daemon;
- engine.compute.ssh.SshRun: a process group on an SSH host.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["RunHandle", "shell_exit_code", "wait_by_polling"]

POLL_SECONDS = 0.05


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


def wait_by_polling(poll: Callable[[], int | None], timeout: float | None, still_going: str) -> int:
    """`RunHandle.wait` for a handle that can only poll (a remote process, a Slurm job): the exit
    code once `poll()` gives one; TimeoutError(`still_going`) after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while (code := poll()) is None:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(still_going)
        time.sleep(POLL_SECONDS)
    return code


def shell_exit_code(code: int) -> int:
    """A shell's exit status as a local run reports it: 128+N ("killed by signal N") becomes -N."""
    if code > 128:
        try:
            return -int(signal.Signals(code - 128))
        except ValueError:
            pass
    return code
