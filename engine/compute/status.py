"""Whether a compute target can take a run now, in words a user reads in a table.

`local` targets are always ready; `docker` targets (and the built-in `docker`) are ready when the
Docker daemon answers a ping (asked with a short timeout: the caller may be a page refreshing);
SSH targets are ready when their SSH server accepts a TCP connection (a 2 s probe: logging in is
left to the run, which reports a key or host-key problem in words), `docker: true` ones too
(their runs ask the host's docker). Slurm targets are ready when
`sinfo` answers (`local: true`) or their login node's SSH server does.
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
    if target.type == "slurm":
        return slurm_state(target)
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


def slurm_state(target: ComputeTarget) -> ComputeState:
    """A Slurm target is ready when `sinfo` answers on this machine (`local: true`), or when the
    login node's SSH server accepts a connection."""
    if not target.config.get("local"):
        state = ssh_state(target)
        return ComputeState(state.state, state.detail.replace("jobs run there with python3", "jobs go to its Slurm"))
    import subprocess

    try:
        res = subprocess.run(["sinfo", "-h", "-o", "%P %a %D %t"], capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ComputeState(UNAVAILABLE, f"Slurm's sinfo does not answer on this machine: {exc}")
    if res.returncode != 0:
        lines = (res.stderr.strip() or f"exit code {res.returncode}").splitlines()
        return ComputeState(UNAVAILABLE, f"sinfo failed: {lines[-1]}")
    parts = sorted({ln.split()[0] for ln in res.stdout.splitlines() if ln.strip()})
    return ComputeState(READY, f"Slurm answers: partition(s) {', '.join(parts) or 'none'}")
