"""A run's inputs and outputs on an SSH host. The inputs are sent through the host's blob store
(engine.compute.ssh.blobs: a file already there is never sent again) into REMOTE/inputs/NAME;
the outputs' folders are made with the run's upload and downloaded into the run folder when the
run ends, whether it completed or not.

On an SSH host `ro_mount` inputs are read-only for real, as on this machine
(engine.compute.hostmounts). A host that refuses namespaces gets the files read-only by
permission bits only (mode 0444, which does not stop root), and the run's driver log says so for
each such input."""

from __future__ import annotations

import shlex
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.compute.ssh.connection import IO_TIMEOUT
from engine.runtime.dataplan import DataPlan

__all__ = [
    "download_named_outputs",
    "output_folders",
    "read_only_command",
]

def output_folders(plan: DataPlan | None) -> tuple[str, ...]:
    """The folders to make in the remote run folder for the plan's outputs (a file output's folder)."""
    if plan is None:
        return ()
    return tuple(str(Path(o.rel).parent) if o.is_file else o.rel for o in plan.outputs)


def read_only_command(path: str) -> str:
    """Make the files under `path` read-only (folders stay writable, so the run folder can be removed)."""
    q = shlex.quote(path)
    return f"find {q} -type f -exec chmod a-w {{}} +"


def download_named_outputs(
    client: Any, remote: str, run_root: Path, plan: DataPlan | None, log: Callable[[str], None]
) -> bool:
    """The job's `outputs:` (collected in the remote run folder) into the run folder, as the script
    left them, whether the run completed or not. False when tar failed there."""
    rels = [o.rel for o in plan.outputs] if plan is not None else []
    if not rels:
        return True
    command = f"cd {shlex.quote(remote)} && tar -cf - --ignore-failed-read -- {shlex.join(rels)}"
    _stdin, stdout, _stderr = client.exec_command(command, timeout=IO_TIMEOUT)
    with tarfile.open(fileobj=stdout, mode="r|") as tar:
        for member in tar:
            try:
                tar.extract(member, run_root, filter="data")
            except tarfile.FilterError as exc:
                log(f"ssh: not downloaded from the outputs: {member.name} ({exc})")
    return bool(stdout.channel.recv_exit_status() in (0, 1))  # 1: an output the script never wrote
