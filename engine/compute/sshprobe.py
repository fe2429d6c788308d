"""What an SSH host offers, asked over one connection: its host key (to accept on first use),
Python, GPUs (nvidia-smi there), Docker and free disk. The compute page's "Test connection", the
GPU inventory of `trainyard compute show`, and a run's GPU assignment on an SSH target use it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import socket
from dataclasses import dataclass
from typing import Any

from engine.compute.gpus import QUERY, GpuInventory, inventory_of
from engine.compute.ssh import SshTarget
from engine.compute.ssh.access import open_route
from engine.errors import LaunchFailed

IO_TIMEOUT = 10.0  # a host that stops answering fails a probe within this

__all__ = [
    "HostKey",
    "HostReport",
    "accept_host_key",
    "host_key",
    "probe_host",
    "remote_gpus",
    "ssh_config_hosts",
    "ssh_gpus",
]


def ssh_config_hosts() -> list[str]:
    """The host aliases of ~/.ssh/config a target can name (patterns like `*` left out)."""
    import paramiko

    path = os.path.expanduser("~/.ssh/config")
    if not os.path.isfile(path):
        return []
    try:
        names = paramiko.SSHConfig.from_path(path).get_hostnames()
    except Exception:  # noqa: BLE001 - a config paramiko cannot read offers no hosts, it is not an error here
        return []
    return sorted(n for n in names if not any(c in n for c in "*?!"))


def remote_gpus(client: Any, timeout: float = IO_TIMEOUT) -> GpuInventory:
    """nvidia-smi's inventory on the host of a connected paramiko client (none when it has no nvidia-smi)."""
    command = (
        "command -v nvidia-smi >/dev/null 2>&1 || { echo 'nvidia-smi not found'; exit 127; }; "
        f"nvidia-smi {shlex.join(QUERY)}"
    )
    try:
        _in, out, err = client.exec_command(command, timeout=timeout)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        code = out.channel.recv_exit_status()
    except (OSError, EOFError) as exc:
        return GpuInventory((), f"nvidia-smi did not answer: {exc}")
    return inventory_of(code, stdout, stderr)


def ssh_gpus(target: SshTarget) -> GpuInventory:
    """The GPUs of an SSH host (connects, asks, disconnects). LaunchFailed when it cannot connect."""
    client = target.connect()
    try:
        return remote_gpus(client)
    finally:
        client.close()


# ------------------------------------------------------------------------------ host keys
@dataclass(frozen=True)
class HostKey:
    """The key an SSH server presented, and whether known_hosts already trusts it."""

    key_type: str  # ssh-ed25519, ...
    base64: str
    fingerprint: str  # SHA256:..., as `ssh-keygen -l` prints it
    known: bool  # in known_hosts with this very key
    changed: bool  # in known_hosts with another key: refuse, never accept silently

    @property
    def line(self) -> str:
        return f"{self.key_type} {self.base64}"


def _fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _host_entry(target: SshTarget) -> str:
    return target.hostname if target.port == 22 else f"[{target.hostname}]:{target.port}"


def host_key(target: SshTarget, timeout: float = IO_TIMEOUT) -> HostKey:
    """The server's host key, fetched without logging in (through its ProxyJump/ProxyCommand when
    it has one). LaunchFailed when the server cannot be reached."""
    import paramiko

    sock: Any = None
    jumps: list[Any] = []
    try:
        sock, jumps = open_route(target, timeout)
        if sock is None:
            sock = socket.create_connection((target.hostname, target.port), timeout=timeout)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        transport.close()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        if sock is not None:
            sock.close()
        raise LaunchFailed(
            f"could not reach the SSH server at {target.hostname}:{target.port}: {exc}",
            "check the host name and port, and that the machine is up and reachable",
        ) from None
    finally:
        for jump in jumps:
            jump.close()
    known = paramiko.HostKeys()
    for path in (os.path.expanduser("~/.ssh/known_hosts"), target.known_hosts):
        if path and os.path.isfile(path):
            try:
                known.load(path)
            except OSError:
                pass
    entry = _host_entry(target)
    stored = known.lookup(entry)
    same = stored is not None and stored.get(key.get_name()) == key
    changed = stored is not None and not same and key.get_name() in stored
    return HostKey(key.get_name(), key.get_base64(), _fingerprint(key.asbytes()), same, changed)


def accept_host_key(target: SshTarget, key: HostKey) -> str:
    """Trust `key` for the target from now on: one line appended to its known_hosts file (the
    target's `known_hosts:`, else ~/.ssh/known_hosts). Returns the file written."""
    path = target.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{_host_entry(target)} {key.line}\n")
    return path


# ------------------------------------------------------------------------------ the probe
@dataclass(frozen=True)
class HostReport:
    """What "Test connection" shows."""

    address: str
    python: str  # "Python 3.11.2 (/usr/bin/python3)", or why there is none
    gpus: GpuInventory
    docker: str  # "Docker 27.0.3" / "not installed" / the error
    free_disk: str  # "12.3 GiB free in ~/.trainyard/runs"

    def lines(self) -> list[tuple[str, str]]:
        gpus = "\n".join(g.summary for g in self.gpus.gpus) or self.gpus.summary
        return [
            ("Connected", self.address),
            ("Python", self.python),
            ("GPUs", gpus),
            ("Docker", self.docker),
            ("Disk", self.free_disk),
        ]


_PROBE = r"""
p=$(command -v python3 || command -v python)
if [ -n "$p" ]; then echo "python $("$p" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>&1) $p";
else echo "python -"; fi
if command -v docker >/dev/null 2>&1; then
  v=$(docker version --format '{{.Server.Version}}' 2>&1) && echo "docker ok $v" || echo "docker err $(echo "$v" | tail -n1)";
else echo "docker -"; fi
d=WORKDIR; while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
echo "disk $(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}') $d"
"""


def probe_host(target: SshTarget, password: str | None = None, passphrase: str | None = None) -> HostReport:
    """Log in and ask the host what it offers. LaunchFailed says why it could not log in
    (SecretNeeded: ask for the password or passphrase, and call again with it)."""
    client = target.connect(password=password, passphrase=passphrase)
    try:
        work_dir = target.work_dir
        if work_dir.startswith("~"):
            work_dir = '"$HOME"' + shlex.quote(work_dir[1:]) if len(work_dir) > 1 else '"$HOME"'
        else:
            work_dir = shlex.quote(work_dir)
        _in, out, _err = client.exec_command(_PROBE.replace("WORKDIR", work_dir), timeout=IO_TIMEOUT)
        lines = out.read().decode("utf-8", "replace").splitlines()
        facts = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] if " " in ln else "" for ln in lines}
        gpus = remote_gpus(client)
    finally:
        client.close()
    py = facts.get("python", "-").split(" ", 1)
    python = (
        "not found (install python3 there)"
        if py[0] in ("-", "")
        else (f"Python {py[0]}" + (f" ({py[1]})" if len(py) > 1 else ""))
    )
    dock = facts.get("docker", "-")
    docker = (
        "not installed"
        if dock == "-"
        else f"Docker {dock[3:]}"
        if dock.startswith("ok ")
        else f"installed, but: {dock[4:]}"
    )
    disk = facts.get("disk", "").split(" ", 1)
    if disk and disk[0].isdigit():
        free = f"{int(disk[0]) / (1 << 20):.1f} GiB free in {disk[1] if len(disk) > 1 else target.work_dir}"
    else:
        free = "unknown"
    return HostReport(target.address, python, gpus, docker, free)
