"""One SSH target's connection: where and how to log in (`SshTarget`, after ~/.ssh/config), and a
`Link` that keeps a client and its SFTP channel open through drops, with backoff, up to the
reconnect timeout."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.compute.ssh.access import SecretNeeded, new_client, open_route, route_of
from engine.errors import LaunchFailed
from engine.tracking.inject.trainyard_run.envvars import ENV_SSH_RECONNECT_TIMEOUT

DEFAULT_WORK_DIR = "~/.trainyard/runs"
DEFAULT_CACHE_DIR = "~/.trainyard"  # blobs/, manifests/, envs/, bin/ (engine.compute.ssh.blobs)
DEFAULT_RECONNECT_TIMEOUT = 600.0
IO_TIMEOUT = 10.0  # a hung host fails a read within this, not after TCP's minutes
CONNECT_TIMEOUT = 10.0
BACKOFF_MIN, BACKOFF_MAX = 0.5, 5.0


def reconnect_timeout() -> float:
    try:
        return float(os.environ.get(ENV_SSH_RECONNECT_TIMEOUT, DEFAULT_RECONNECT_TIMEOUT))
    except ValueError:
        return DEFAULT_RECONNECT_TIMEOUT


@dataclass(frozen=True)
class SshTarget:
    """Where and how to connect, after ~/.ssh/config (HostName, Port, User, IdentityFile,
    ProxyJump, ProxyCommand, IdentitiesOnly; routes and secrets: engine.compute.ssh.access)."""

    name: str
    host: str  # what the target says (may be an ~/.ssh/config alias)
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...]
    known_hosts: str | None
    work_dir: str
    keep_remote_files: bool = False
    proxy_jump: str | None = None  # "a" or a chain "a,b" ([user@]host[:port] or aliases)
    proxy_command: str | None = None
    identities_only: bool = False  # IdentitiesOnly yes: only the key files, not the ssh-agent's keys
    cache_dir: str = DEFAULT_CACHE_DIR

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> SshTarget:
        import getpass

        import paramiko

        host = str(config.get("host") or "")
        found: dict[str, Any] = {}
        ssh_config = Path("~/.ssh/config").expanduser()
        if ssh_config.is_file():
            try:
                found = dict(paramiko.SSHConfig.from_path(str(ssh_config)).lookup(host))
            except Exception:  # noqa: BLE001 - a broken ~/.ssh/config must not hide the target's own settings
                found = {}
        port = int(config.get("port") or 22)
        if port == 22 and found.get("port"):  # the YAML's default 22 yields to the alias's Port
            port = int(found["port"])
        keys: tuple[str, ...] = ()
        if config.get("key_file"):
            keys = (os.path.expanduser(str(config["key_file"])),)
        elif found.get("identityfile"):
            keys = tuple(os.path.expanduser(k) for k in found["identityfile"])
        known = config.get("known_hosts")
        return cls(
            name=name,
            host=host,
            hostname=str(found.get("hostname") or host),
            port=port,
            user=str(config.get("user") or found.get("user") or getpass.getuser()),
            key_files=keys,
            known_hosts=os.path.expanduser(str(known)) if known else None,
            work_dir=str(config.get("work_dir") or DEFAULT_WORK_DIR),
            keep_remote_files=bool(config.get("keep_remote_files")),
            proxy_jump=route_of(found)[0],
            proxy_command=route_of(found)[1],
            identities_only=str(found.get("identitiesonly", "")).lower() == "yes",
            cache_dir=str(config.get("cache_dir") or DEFAULT_CACHE_DIR),
        )

    def through(self, jump: str) -> SshTarget:
        """This target reached through the jump host(s) `jump` instead of its own route."""
        return replace(self, proxy_jump=jump, proxy_command=None)

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    def connect(
        self, timeout: float = CONNECT_TIMEOUT, *, password: str | None = None, passphrase: str | None = None
    ) -> Any:
        """A connected paramiko.SSHClient (through its jump hosts or proxy command, if any); LaunchFailed
        says what is wrong and what to do (SecretNeeded: a password or passphrase would help)."""
        import paramiko

        client = new_client()
        system_hosts = os.path.expanduser("~/.ssh/known_hosts")
        try:  # named, paramiko raises when it cannot read it (unnamed, it would say nothing)
            client.load_system_host_keys(system_hosts)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LaunchFailed(
                f"the known_hosts file {system_hosts} cannot be read: {exc}",
                "make it a file you can read (chmod u+r), or move it aside",
            ) from None
        if self.known_hosts:
            try:
                client.get_host_keys().load(self.known_hosts)
            except OSError as exc:
                raise LaunchFailed(
                    f"the known_hosts file {self.known_hosts} of compute target {self.name!r} "
                    f"cannot be read: {exc}",
                    "fix `known_hosts:` in the compute YAML",
                ) from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        for key in self.key_files:
            if not os.path.isfile(key):
                raise LaunchFailed(
                    f"the SSH key file {key} of compute target {self.name!r} does not exist",
                    "fix `key_file:` in the compute YAML (or IdentityFile in ~/.ssh/config)",
                )
        hosts_file = self.known_hosts or "~/.ssh/known_hosts"
        keyscan = f"ssh-keyscan -p {self.port} {self.hostname} >> {hosts_file}"
        try:
            sock, client.jumps = open_route(self, timeout)
            client.connect(
                self.hostname,
                port=self.port,
                username=self.user,
                # paramiko takes a list of key files too (its docs); the stub says str
                key_filename=list(self.key_files) or None,
                look_for_keys=not self.key_files,
                allow_agent=not self.identities_only,  # the agent's keys after the key files, as ssh does
                password=password,
                passphrase=passphrase,
                sock=sock,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise LaunchFailed(
                f"the host key of {self.hostname}:{self.port} does not match the one in {hosts_file}: {exc}",
                "if the host was reinstalled on purpose, remove its old line "
                f"(ssh-keygen -R '[{self.hostname}]:{self.port}') and run `{keyscan}`",
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise SecretNeeded(
                f"the SSH key {', '.join(self.key_files) or 'in ~/.ssh'} for {self.address} is protected by a "
                "passphrase",
                "add it to your ssh-agent (`ssh-add KEY`) so that runs can use it, or give the passphrase",
                "passphrase",
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            keys = ", ".join(self.key_files) or "the default keys in ~/.ssh and the SSH agent"
            if password is None:
                raise SecretNeeded(
                    f"SSH login to {self.address} failed with the key {keys}: {exc}",
                    f"check `user:` and `key_file:`, and that the key's .pub is in "
                    f"~{self.user}/.ssh/authorized_keys there",
                    "password",
                ) from None
            raise LaunchFailed(
                f"SSH login to {self.address} failed with the key {keys}: {exc}",
                f"check `user:` and `key_file:`, and that the key's .pub is in "
                f"~{self.user}/.ssh/authorized_keys there",
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "No authentication methods available" in str(exc):
                raise SecretNeeded(
                    f"there is no SSH key to log in to {self.address} with (compute target {self.name!r})",
                    "give `key_file:` (or IdentityFile in ~/.ssh/config), or load the key into the ssh-agent",
                    "password",
                ) from None
            if "not found in known_hosts" in str(exc):
                raise LaunchFailed(
                    f"the host key of {self.hostname}:{self.port} (compute target {self.name!r}) "
                    f"is unknown: it is not in {hosts_file}",
                    f"check that it is the right host, then run `{keyscan}`",
                ) from None
            raise LaunchFailed(
                f"could not connect to {self.address} (compute target {self.name!r}): {exc}",
                "check that sshd runs there and the port is right",
            ) from None
        except (OSError, EOFError) as exc:
            client.close()
            raise LaunchFailed(
                f"could not connect to {self.address} (compute target {self.name!r}): {exc}",
                "check the host name and port, and that the machine is up and reachable",
            ) from None
        # Keepalives, and timeouts on every channel (IO_TIMEOUT): a silent host fails a read in seconds.
        transport = client.get_transport()
        if transport is not None:  # None only before connect()
            transport.set_keepalive(1)
        return client


def absolute_on_host(folder: str, home: str) -> str:
    """A folder setting (`~/...`, relative to the home, or absolute) as an absolute path there."""
    if folder == "~" or folder.startswith("~/"):
        folder = home + folder[1:]
    elif not folder.startswith("/"):
        folder = home + "/" + folder
    return folder.rstrip("/")


class Link:
    """A connection to `target` that a dropped connection or a silent host closes, and that
    reconnects with backoff; `lost_at` is set while the host is away."""

    def __init__(self, target: SshTarget, log: Callable[[str], None], note: Callable[[str], None]) -> None:
        self.target = target
        self.log = log
        self.note = note
        self.client: Any = None
        self.sftp: Any = None
        self.lost_at: float | None = None  # wall time the connection was lost
        self._next_attempt = 0.0
        self.backoff = BACKOFF_MIN
        self.timeout = reconnect_timeout()

    @property
    def connected(self) -> bool:
        return self.client is not None

    def open(self) -> None:
        self.client = self.target.connect()
        self.sftp = self.client.open_sftp()
        self.sftp.get_channel().settimeout(IO_TIMEOUT)

    def close(self) -> None:
        client, self.client, self.sftp = self.client, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # it is going away anyway
                client.close()

    def exec(self, command: str, timeout: float = IO_TIMEOUT) -> tuple[str, str, int]:
        _stdin, stdout, stderr = self.client.exec_command(command, timeout=timeout)
        out = stdout.read().decode("utf-8", "replace")
        err = stderr.read().decode("utf-8", "replace")
        return out, err, stdout.channel.recv_exit_status()

    def is_loss(self, exc: BaseException) -> bool:
        """A dropped connection, or a host that stopped answering (the transport still looks
        active then, until TCP gives up minutes later)."""
        if isinstance(exc, (TimeoutError, EOFError)):
            return True
        transport = self.client.get_transport() if self.client is not None else None
        return not (transport is not None and transport.is_active())

    def lost(self, exc: BaseException) -> None:
        self.close()
        if self.lost_at is None:
            self.lost_at = time.time()
            self.backoff = BACKOFF_MIN
            self._next_attempt = time.monotonic() + self.backoff
            self.log(f"ssh: lost the connection to {self.target.address}: {type(exc).__name__}: {exc}")
            self.note(f"lost the connection to {self.target.hostname}; reconnecting")

    def try_reconnect(self) -> bool | None:
        """One attempt when the backoff allows: True when connected again, False while the host
        is still away, None once the reconnect timeout has passed (give up)."""
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        assert self.lost_at is not None
        try:
            self.open()
        except Exception as exc:  # noqa: BLE001 - the host is still away
            self.close()
            if time.time() - self.lost_at >= self.timeout:
                return None
            self.log(f"ssh: reconnecting to {self.target.address} failed: {exc}")
            self.backoff = min(self.backoff * 2, BACKOFF_MAX)
            self._next_attempt = now + self.backoff
            return False
        self.note(f"reconnected to {self.target.hostname} after {time.time() - self.lost_at:.1f} s")
        self.lost_at = None
        return True

    def with_connection(self, fn: Callable[[], Any]) -> Any:
        """`fn()` with reconnects while the host is away (up to the reconnect timeout); None when
        it stays unreachable."""
        while True:
            if self.client is None:
                if self.lost_at is None:
                    self.lost_at = time.time()
                try:
                    self.open()
                    self.note(
                        f"reconnected to {self.target.hostname} after {time.time() - self.lost_at:.1f} s"
                    )
                    self.lost_at = None
                except Exception:  # noqa: BLE001
                    self.close()
                    if time.time() - (self.lost_at or time.time()) >= self.timeout:
                        return None
                    time.sleep(self.backoff)
                    self.backoff = min(self.backoff * 2, BACKOFF_MAX)
                    continue
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001
                if not self.is_loss(exc):
                    self.log(f"ssh: {type(exc).__name__}: {exc}")
                    return None
                self.lost(exc)


__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_WORK_DIR",
    "IO_TIMEOUT",
    "Link",
    "SshTarget",
    "absolute_on_host",
    "reconnect_timeout",
]
