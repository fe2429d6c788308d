"""Conda environments built on the SSH host (engine.compute.ssh.envbuild's conda half).

The host needs no conda: Trainyard sends the solver it uses here, the py-rattler package it is
installed with (an abi3 wheel: any CPython >= 3.10 of the same OS and CPU architecture runs it),
through the host's blob store into ``CACHE/tools/py-rattler-<version>-<id>/`` once, and
condahost.py to ``CACHE/bin/``. The host's python3 runs condahost.py with that package on its
PYTHONPATH: it solves the conda dependencies against the channels and installs them into
``CACHE/envs/<spec hash>/``; the ``pip:`` section then goes in with the uploaded uv. Channels
that are folders on this machine are sent to the host too (``CACHE/channels/<id>/``, through the
blob store: a channel sent before costs a change list); URLs and names pass through, so the host
reads them itself.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shlex
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.errors import EnvBuildFailed, LaunchFailed


class HostBuilder(Protocol):
    """What a conda build needs of the host's builder (engine.compute.ssh.envbuild.RemoteEnvBuilder)."""

    sender: Any  # a BlobSender to the host, or None
    root: str  # the cache folder, absolute on the host
    python: str  # the host's python3
    where: str  # the host, for messages

    def ensure_uv(self, log: BuildLog) -> str: ...
    def put(self, path: str, data: bytes) -> None: ...
    def put_once(self, path: str, data: bytes) -> None: ...
    def run(self, command: str, timeout: float = ...) -> tuple[str, str, int]: ...

HOST_SCRIPT = Path(__file__).with_name("condahost.py")
HOST_SCRIPT_NAME = "condahost-" + hashlib.sha256(HOST_SCRIPT.read_bytes()).hexdigest()[:12] + ".py"
TOOL_READY = ".trainyard-tool-ready"


def rattler_package() -> tuple[Path, str]:
    """(the folder of the py-rattler package installed here, its tool name on the host)."""
    found = importlib.util.find_spec("rattler")
    if found is None or not found.submodule_search_locations:
        raise EnvBuildFailed(
            "py-rattler, the conda solver Trainyard brings to SSH hosts, is not installed here",
            "reinstall Trainyard (py-rattler is one of its dependencies)",
        )
    folder = Path(next(iter(found.submodule_search_locations)))
    try:
        dist = importlib.metadata.distribution("py-rattler")
        version, record = dist.version, dist.read_text("RECORD") or dist.version
    except importlib.metadata.PackageNotFoundError:  # a bundle without the metadata: its files say
        version = "bundled"
        record = "\n".join(
            f"{p.relative_to(folder)} {p.stat().st_size}" for p in sorted(folder.rglob("*")) if p.is_file()
        )
    ident = hashlib.sha256(record.encode()).hexdigest()[:12]
    return folder, f"py-rattler-{version}-{ident}"


def conda_build_command(builder: HostBuilder, spec: EnvironmentSpec, env: str, log: BuildLog) -> str:
    """Make the host ready to build `spec` into `env` (the solver, the request, the local
    channels sent) and return the shell command that builds it there."""
    from engine.environments.build.conda import resolve_channels, split_dependencies  # PyYAML with it

    assert spec.conda is not None
    if builder.sender is None:
        raise EnvBuildFailed(f"building a conda environment on {builder.where} needs an upload to it")
    specs, pip_reqs = split_dependencies(spec.conda)
    channels = [
        _channel_on_host(builder, ch, log)
        for ch in resolve_channels(spec.conda.get("channels"), spec.conda_source)
    ]
    tool = _ensure_solver(builder, log)
    q = shlex.quote
    script = f"{builder.root}/bin/{HOST_SCRIPT_NAME}"
    builder.put_once(script, HOST_SCRIPT.read_bytes())
    request = {"specs": specs, "channels": channels, "prefix": env, "cache_dir": f"{builder.root}/conda-pkgs"}
    builder.put(f"{env}.conda-request.json", json.dumps(request, indent=1).encode())
    log.line(f"solving on {builder.where} with py-rattler ({tool.rsplit('/', 1)[-1]})")
    build = (
        f"PYTHONPATH={q(tool)} PYTHONNOUSERSITE=1 {q(builder.python)} {q(script)} "
        f"{q(env + '.conda-request.json')}"
    )
    if pip_reqs:
        uv = builder.ensure_uv(log)
        builder.put(f"{env}.requirements.txt", ("\n".join(pip_reqs) + "\n").encode())
        python = f"{env}/bin/python"
        no_python = (
            "echo 'ERROR: the conda file has a pip: section but its conda dependencies install no python, "
            "so there is nothing to install the pip packages into: add python to them'; exit 1"
        )
        build += (
            f" && {{ test -x {q(python)} || {{ {no_python}; }}; }}"
            f" && echo 'installing {len(pip_reqs)} pip requirement(s) with uv'"
            f" && {q(uv)} pip install --python {q(python)} --prefix {q(env)} -r {q(env + '.requirements.txt')}"
        )
    return build


def _ensure_solver(builder: HostBuilder, log: BuildLog) -> str:
    """py-rattler on the host (sent once); returns the folder to put on PYTHONPATH there."""
    folder, name = rattler_package()
    dest = f"{builder.root}/tools/{name}"
    ready = f"{dest}/{TOOL_READY}"
    if builder.run(f"test -f {shlex.quote(ready)} && echo ok")[0].strip() == "ok":
        return dest
    from engine.compute.ssh.blobs import Tree

    tree = Tree()
    tree.add_path(folder, "rattler")
    size = sum(size for _path, _sha, size, _x in tree.entries)
    log.line(f"sending the conda solver py-rattler ({size / 1e6:.0f} MB) to {builder.where}:{dest}")
    try:
        sent = builder.sender.send(tree, dest, key=f"tool:{name}")
    except LaunchFailed as exc:
        raise EnvBuildFailed(
            f"sending the conda solver to {builder.where} failed: {exc.message}", exc.hint
        ) from None
    log.line(f"sent {sent.bytes_sent / 1e6:.1f} MB")
    builder.run(f"echo ok > {shlex.quote(ready)}")
    return dest


def _channel_on_host(builder: HostBuilder, channel: str, log: BuildLog) -> str:
    """A channel as the host reaches it: a folder here is sent there; anything else as it is."""
    if not channel.startswith("file://"):
        return channel
    local = Path(urllib.request.url2pathname(urllib.parse.urlparse(channel).path))
    if not local.is_dir():
        return channel  # maybe a folder of the host's own
    from engine.compute.ssh.blobs import Tree

    dest = f"{builder.root}/channels/{hashlib.sha256(str(local).encode()).hexdigest()[:16]}"
    tree = Tree()
    tree.add_path(local, "")
    try:
        sent = builder.sender.send(tree, dest, key=f"channel:{local}")
    except LaunchFailed as exc:
        raise EnvBuildFailed(
            f"sending the channel {local} to {builder.where} failed: {exc.message}", exc.hint
        ) from None
    log.line(
        f"channel {local} sent to {builder.where}:{dest} ({sent.files} files, {sent.bytes_sent} bytes sent)"
    )
    return "file://" + urllib.parse.quote(dest)


__all__ = ["HOST_SCRIPT_NAME", "HostBuilder", "conda_build_command", "rattler_package"]
