"""Which machine this is, as recorded on the runs it starts.

A run's supervisor is a process of one machine: only that machine can check its pid or signal
it. In a team workspace (docs/team-workspace.md) several machines share one store, so every run
records the machine that owns it (`host`: the readable host name; `machine`: an id that stays
distinct when two machines share a host name, as cloned images often do). `TRAINYARD_HOST_ID`
overrides both (a container whose host name changes at each start; tests that play two machines).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from functools import cache
from typing import Any

ENV_HOST_ID = "TRAINYARD_HOST_ID"
# platform.node() is socket.gethostname() on POSIX, without importing socket (~4 ms for `job list`).
_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")

__all__ = ["ENV_HOST_ID", "host_properties", "runs_here", "this_host", "this_machine"]


def this_host() -> str:
    """This machine's name as runs record it."""
    return os.environ.get(ENV_HOST_ID) or platform.node()


def this_machine() -> str:
    """An id of this machine: $TRAINYARD_HOST_ID, else the OS's machine id, else the host name."""
    return os.environ.get(ENV_HOST_ID) or _os_machine_id() or platform.node()


@cache
def _os_machine_id() -> str | None:
    for path in _MACHINE_ID_FILES:
        try:
            with open(path) as f:
                found = f.read().strip()
        except OSError:
            continue
        if found:
            return found
    return None


def host_properties() -> dict[str, str]:
    """What a new run records about the machine that starts its supervisor."""
    return {"host": this_host(), "machine": this_machine()}


def runs_here(properties: Mapping[str, Any]) -> bool:
    """Whether a run with these properties is owned by a process of this machine. Runs recorded
    before the machine id compare host names; runs with neither are this machine's."""
    machine = properties.get("machine")
    if machine is not None:
        return str(machine) == this_machine()
    return str(properties.get("host", this_host())) == this_host()
