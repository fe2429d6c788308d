"""Sending a run's files to its remote folder: the materialized snapshot (RUN/wd), the in-run
client and the interpreter wrappers, as one tar stream unpacked there."""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from pathlib import Path
from typing import Any

from engine.compute.ssh.connection import IO_TIMEOUT, SshTarget
from engine.errors import LaunchFailed
from engine.runtime import INJECT_DIR


def upload_tar(client: Any, target: SshTarget, remote: str, wd: Path, interpreter: str | None) -> None:
    """RUN/wd as REMOTE/wd, the in-run client as REMOTE/inject, `python`/`python3` wrappers of
    `interpreter` in REMOTE/bin and an empty REMOTE/tracking."""
    r = shlex.quote(remote)
    chan = client.get_transport().open_session(timeout=IO_TIMEOUT)
    chan.settimeout(120)  # one write may wait while the remote tar unpacks a big snapshot
    chan.exec_command(f"mkdir -p {r} && tar --no-same-owner -xf - -C {r}")
    stream = chan.makefile_stdin("wb")

    def no_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if "__pycache__" in info.name.split("/") else info

    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(wd, arcname="wd", filter=no_caches)
        tar.add(INJECT_DIR, arcname="inject", filter=no_caches)
        for name in ("bin", "tracking"):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
            tar.addfile(info)
        # Wrappers, not links: a venv's python must be started by its own path (launch.link_interpreter).
        wrapper = f'#!/bin/sh\nexec {shlex.quote(interpreter or "python3")} "$@"\n'.encode()
        for name in ("python", "python3"):
            info = tarfile.TarInfo(f"bin/{name}")
            info.size, info.mode, info.mtime = len(wrapper), 0o755, int(time.time())
            tar.addfile(info, io.BytesIO(wrapper))
    stream.flush()
    chan.shutdown_write()
    err = chan.makefile_stderr("rb").read().decode("utf-8", "replace").strip()
    code = chan.recv_exit_status()
    chan.close()
    if code != 0:
        raise LaunchFailed(
            f"uploading the code to {target.address}:{remote} failed: "
            f"{err or f'tar exited with code {code}'}",
            "check that the work folder there is writable and has space (`work_dir:` in the compute YAML)",
        )


__all__ = ["upload_tar"]
