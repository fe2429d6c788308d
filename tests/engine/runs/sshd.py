"""A throwaway sshd on 127.0.0.1 for tests of SSH compute (after /work/shared/recipes/ssh/start_sshd.sh).

Its host key, a client key, authorized_keys, sshd_config and pidfile all live in one folder; it
never touches /etc/ssh or ~/.ssh. `known_hosts` is written from the host key so that tests can
connect with host-key checking on. Needs OpenSSH's server (`openssh-server`, installed by
scripts/bootstrap.sh); without it the tests fail and say so.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def sshd_binary() -> str | None:
    for path in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if path and os.access(path, os.X_OK):
            return str(Path(path).absolute())  # sshd refuses to start from a relative path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sshd:
    dir: Path
    port: int
    user: str
    key: Path  # the client's private key (its .pub is authorized)
    known_hosts: Path  # a known_hosts file with this server's host key
    pid: int

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def session_processes(self) -> list[psutil.Process]:
        """The per-connection sshd processes (children of the listener)."""
        try:
            return psutil.Process(self.pid).children()
        except psutil.Error:
            return []

    def drop_connections(self) -> int:
        """kill -9 every connection's sshd process: their TCP connections drop; the listener stays."""
        procs = self.session_processes()
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        return len(procs)

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def start_sshd(folder: Path, extra_config: str = "") -> Sshd:
    """Start one; `extra_config`: more sshd_config lines (e.g. `SetEnv PATH=...` for its sessions)."""
    binary = sshd_binary()
    if binary is None:
        raise RuntimeError("sshd is not installed (apt-get install openssh-server)")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for name in ("host_ed25519", "client_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    shutil.copyfile(folder / "client_ed25519.pub", folder / "authorized_keys")
    (folder / "authorized_keys").chmod(0o600)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # a root sshd's privilege-separation folder
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {folder}/host_ed25519
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
ClientAliveInterval 5
LogLevel VERBOSE
{extra_config}""")
    subprocess.run([binary, "-t", "-f", str(config)], check=True)
    subprocess.run([binary, "-f", str(config), "-E", str(folder / "sshd.log")], check=True)  # daemonizes
    pidfile = folder / "sshd.pid"
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd did not start: {(folder / 'sshd.log').read_text(errors='replace')}")
        time.sleep(0.02)
    host_key = (folder / "host_ed25519.pub").read_text().split()
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    return Sshd(folder, port, getpass.getuser(), folder / "client_ed25519", known, int(pidfile.read_text()))
