"""How a connection reaches an SSH host that is not directly reachable, and the secrets a login
may need.

Routes, as OpenSSH reads them from ``~/.ssh/config``:

- ``ProxyJump a`` / ``ProxyJump a,b`` (``[user@]host[:port]`` or an alias of its own): log in to
  the last jump host (itself reached through the ones before it), then open a ``direct-tcpip``
  channel from there to the target; the target's SSH session runs inside that channel.
- ``ProxyCommand cmd``: the command's stdin/stdout are the connection (``%h``, ``%p``, ``%r``
  are filled in by paramiko's config reader).

Jump hosts are checked against the same known_hosts files as the target. The connected client
closes its jump hosts' connections when it closes.

Secrets: an encrypted key without its passphrase, or a host that only takes a password, is a
``SecretNeeded`` (a LaunchFailed): the studio asks for it and connects again with it; runs, which
no one can answer, say to use the ssh-agent. Secrets are never written anywhere.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Protocol

from engine.errors import LaunchFailed

__all__ = ["RoutedTarget", "SecretNeeded", "new_client", "open_route", "parse_hop", "route_of"]

_HOP = re.compile(r"^(?:ssh://)?(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:\s]+)(?::(?P<port>\d+))?$")


class RoutedTarget(Protocol):
    """What a route needs of a target (engine.compute.ssh.connection.SshTarget is one): where it
    is, how it is reached, and how to make and connect another target of its kind (a jump host)."""

    @property
    def name(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def hostname(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def known_hosts(self) -> str | None: ...
    @property
    def proxy_jump(self) -> str | None: ...
    @property
    def proxy_command(self) -> str | None: ...
    @property
    def address(self) -> str: ...

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any]) -> RoutedTarget: ...
    def through(self, jump: str) -> RoutedTarget: ...
    def connect(self, timeout: float) -> Any: ...


class SecretNeeded(LaunchFailed):
    """The login needs a `password` or a key's `passphrase` that was not given."""

    def __init__(self, message: str, hint: str, secret: str) -> None:
        super().__init__(message, hint)
        self.secret = secret  # "password" | "passphrase"


def route_of(found: dict[str, Any]) -> tuple[str | None, str | None]:
    """(ProxyJump, ProxyCommand) of one host's ~/.ssh/config settings; `none` turns either off."""

    def value(key: str) -> str | None:
        v = found.get(key)
        text = " ".join(v) if isinstance(v, list) else str(v or "")
        return None if not text.strip() or text.strip().lower() == "none" else text.strip()

    return value("proxyjump"), value("proxycommand")


def parse_hop(hop: str) -> tuple[str | None, str, int | None]:
    """`[ssh://][user@]host[:port]` -> (user, host, port); LaunchFailed when it is not one."""
    m = _HOP.match(hop.strip())
    if not m:
        raise LaunchFailed(
            f"the ProxyJump host {hop!r} in ~/.ssh/config is not [user@]host[:port]",
            "fix the ProxyJump line of that host in ~/.ssh/config",
        )
    port = int(m["port"]) if m["port"] else None
    return m["user"], m["host"].strip("[]"), port


@functools.cache
def _client_class() -> type:
    import paramiko

    class RoutedClient(paramiko.SSHClient):
        """An SSHClient that also closes the jump hosts it was reached through."""

        def __init__(self) -> None:
            super().__init__()
            self.jumps: list[Any] = []

        def close(self) -> None:
            super().close()
            for jump in reversed(self.jumps):
                jump.close()
            self.jumps = []

    return RoutedClient


def new_client() -> Any:
    """A paramiko.SSHClient whose close() also closes its jump hosts' connections."""
    return _client_class()()


def open_route(target: RoutedTarget, timeout: float) -> tuple[Any, list[Any]]:
    """(sock, jump clients) for paramiko's `connect(sock=...)`; (None, []) for a direct connection."""
    if target.proxy_jump:
        *before, last = [h.strip() for h in target.proxy_jump.split(",") if h.strip()]
        user, host, port = parse_hop(last)
        settings: dict[str, Any] = {"host": host, "known_hosts": target.known_hosts}
        if user:
            settings["user"] = user
        if port:
            settings["port"] = port
        hop = type(target).from_config(f"{target.name} (jump host {last})", settings)
        if before:  # a chain: the last jump host is itself reached through the ones before it
            hop = hop.through(",".join(before))
        jump = hop.connect(timeout)
        transport = jump.get_transport()
        try:
            channel = transport.open_channel(
                "direct-tcpip", (target.hostname, target.port), ("127.0.0.1", 0), timeout=timeout
            )
        except Exception as exc:  # noqa: BLE001 - paramiko's ChannelException, an SSHException, a timeout
            jump.close()
            raise LaunchFailed(
                f"the jump host {hop.address} could not open a connection to "
                f"{target.hostname}:{target.port}: {exc}",
                "check that the jump host reaches the target there, and that its sshd "
                "allows TCP forwarding (AllowTcpForwarding)",
            ) from None
        return channel, [jump]
    if target.proxy_command:
        import paramiko

        try:
            return paramiko.ProxyCommand(target.proxy_command), []
        except Exception as exc:  # noqa: BLE001 - paramiko raises its ProxyCommandFailure or OSError
            raise LaunchFailed(
                f"the ProxyCommand of {target.host} could not start: {exc}",
                "fix the ProxyCommand line of that host in ~/.ssh/config",
            ) from None
    return None, []
