"""A throwaway sshd on 127.0.0.1 (tests/engine/runs/sshd.py) and a RemoteEnvBuilder connected to
it, for the benchmarks of builds and locks on an SSH host."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine" / "runs")]

from sshd import start_sshd

from engine.compute.ssh import SshTarget
from engine.compute.ssh.blobs import BlobSender, HostRecords
from engine.compute.ssh.envbuild import RemoteEnvBuilder


@contextlib.contextmanager
def host_builder(prefix: str) -> Iterator[tuple[RemoteEnvBuilder, Path]]:
    """(a builder on the sshd's host, its cache folder there); everything is removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    sshd = start_sshd(tmp / "sshd")
    try:
        target = SshTarget.from_config("bench", {
            "host": sshd.host, "port": sshd.port, "user": sshd.user,
            "key_file": str(sshd.key), "known_hosts": str(sshd.known_hosts),
        })
        client = target.connect()
        cache = tmp / "host-cache"
        sender = BlobSender(client, str(cache), sys.executable, HostRecords(tmp / "records", "bench"), target.address)
        python = shutil.which("python3") or sys.executable
        try:
            yield RemoteEnvBuilder(client, str(cache), python, target.address, sender), cache
        finally:
            client.close()
    finally:
        sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
