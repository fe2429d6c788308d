"""Whether a compute target can take a run now, in words a user reads in a table.

`local` targets are always ready; `docker` targets (and the built-in `docker`) are ready when the
Docker daemon answers a ping (asked with a short timeout: the caller may be a page refreshing);
SSH targets are ready when their SSH server accepts a TCP connection (a 2 s probe: logging in is
left to the run, which reports a key or host-key problem in words), `docker: true` ones too
(their runs ask the host's docker).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from engine.compute.ssh import SshTarget
from engine.entities import ComputeTarget
from engine.environments.build.daemon import docker_client
from engine.errors import TrainyardError

READY = "ready"
UNAVAILABLE = "unavailable"
NOT_IN_THIS_VERSION = "not available in this version"


@dataclass(frozen=True)
class ComputeState:
    state: str  # READY | UNAVAILABLE | NOT_IN_THIS_VERSION
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.state == READY


def docker_state() -> ComputeState:
    """Ping the local Docker daemon (a few seconds at most)."""
    try:
        client = docker_client(timeout=5)
    except TrainyardError as exc:
        return ComputeState(UNAVAILABLE, exc.message)
    try:
        version = client.version().get("Version", "")
    except Exception:  # noqa: BLE001 - the ping worked; the version is only a nicety
        version = ""
    finally:
        client.close()
    return ComputeState(READY, f"Docker {version} is running" if version else "Docker is running")


def target_state(target: ComputeTarget, docker: ComputeState | None = None) -> ComputeState:
    """The state of `target`; `docker` is a state already found (one ping serves every target)."""
    if target.type == "local":
        return ComputeState(READY, "runs jobs as processes on this machine")
    if target.type == "docker":
        return docker if docker is not None else docker_state()
    if target.type == "ssh":
        return ssh_state(target)
    return ComputeState(UNAVAILABLE, f"unknown compute type {target.type!r} (made by a newer Trainyard?)")


SSH_PROBE_SECONDS = 2.0


def ssh_state(target: ComputeTarget) -> ComputeState:
    ssh = SshTarget.from_config(target.name, target.config)
    try:
        with socket.create_connection((ssh.hostname, ssh.port), timeout=SSH_PROBE_SECONDS):
            pass
    except OSError as exc:
        return ComputeState(UNAVAILABLE, f"cannot reach the SSH server at {ssh.hostname}:{ssh.port}: "
                                         f"{exc.strerror or exc}")
    return ComputeState(READY, f"the SSH server at {ssh.address} answers; jobs run there with python3")
