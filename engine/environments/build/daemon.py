"""The local Docker daemon: a client that answered a ping, or a DockerUnavailable that says how to
start one. Shared by the image builds (engine.environments.build.docker), container runs and the
compute page (engine.compute); light to import: the Docker SDK is loaded when a client is made."""

from __future__ import annotations

import os
from typing import Any

from engine.errors import DockerUnavailable

__all__ = ["DEFAULT_DOCKER_HOST", "docker_client", "docker_host"]

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def docker_host() -> str:
    """The daemon address the SDK will use: ``$DOCKER_HOST`` or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def docker_client(timeout: float = 120.0) -> Any:
    """A docker SDK client (``docker.from_env()``) whose daemon answered a ping.

    Raises ``DockerUnavailable`` saying which address was tried and how to start a daemon.
    ``timeout`` is the client's HTTP timeout for ordinary calls (streams have none)."""
    host = docker_host()
    source = "DOCKER_HOST" if os.environ.get("DOCKER_HOST") else "the default; DOCKER_HOST is not set"
    try:
        import docker as docker_sdk
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise DockerUnavailable(
            "the docker Python package is not installed", "pip install 'docker>=7'"
        ) from exc
    try:
        client = docker_sdk.from_env(timeout=5)  # the version probe and ping: fail fast
        client.ping()
    except Exception as exc:
        reason = _short_reason(exc)
        hint = (
            "start the Docker daemon: `sudo systemctl start docker` (or `sudo service docker start`); "
            "without a service manager run it yourself, e.g. `sudo dockerd &` (in a VM or container "
            "without iptables: `sudo dockerd --iptables=false --bridge=none &`); if it runs elsewhere "
            "set DOCKER_HOST to its address (e.g. unix:///run/user/1000/docker.sock)"
        )
        if "permission denied" in reason.lower():
            hint = (f"your user may not use {host}: add it to the `docker` group "
                    "(`sudo usermod -aG docker $USER`, then log in again) or run as root")
        raise DockerUnavailable(
            f"Docker is not running: could not reach the Docker daemon at {host} ({source}): {reason}",
            hint,
        ) from exc
    client.api.timeout = timeout  # type: ignore[assignment]  # requests takes a float; the stub says int
    return client


def _short_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "No such file or directory", "Permission denied",
                   "Connection aborted", "timed out"):
        if marker.lower() in text.lower():
            return marker
    return text.splitlines()[0][:300] if text else type(exc).__name__
