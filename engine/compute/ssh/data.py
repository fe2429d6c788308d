"""A run's inputs and outputs on an SSH host. The inputs are sent through the host's blob store
(engine.compute.ssh.blobs: a file already there is never sent again) into REMOTE/inputs/NAME;
the outputs' folders are made with the run's upload and downloaded into the run folder when the
run ends, whether it completed or not.

On an SSH host `ro_mount` inputs are read-only for real, as on this machine (engine.compute.mounts):
the script starts in a private mount namespace in which each one is bind-mounted read-only onto
itself (`unshare --mount` as root; `unshare --user --map-root-user --mount` as another user), and
the capability to remount is dropped (`setpriv`, where the host has it). A host that refuses
namespaces gets the files read-only by permission bits only (mode 0444, which does not stop root),
and the run's driver log says so for each such input."""

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
    "namespace_probe",
    "output_folders",
    "permission_bits_note",
    "read_only_command",
    "read_only_wrapper",
]

_TRY_BIND = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0"'


def namespace_probe(folder: str) -> str:
    """A POSIX-sh command that prints `ns root`, `ns user` (a user namespace works) or `ns none WHY`
    on the host. It tries what the run's wrapper will do on a fresh folder in `folder` (on the
    inputs' filesystem): a private mount namespace, a bind mount made read-only."""
    q = shlex.quote(folder.rstrip("/") + "/.ns-probe.XXXXXX")
    return (
        'if ! command -v unshare >/dev/null 2>&1; then echo "ns none unshare (util-linux) is not installed"; '
        f'elif ! d=$(mktemp -d {q}); then echo "ns none mktemp -d failed"; '
        'else if [ "$(id -u)" = 0 ]; then k=root; set -- --mount; else k=user; set -- --user '
        f'--map-root-user --mount; fi; if e=$(unshare "$@" --propagation private /bin/sh -c {shlex.quote(_TRY_BIND)} '
        '"$d" 2>&1); then echo "ns $k"; '
        "else printf 'ns none %s\\n' \"$(printf '%s' \"$e\" | tr '\\n' ' ')\"; fi; rmdir \"$d\"; fi"
    )


_PREFIX = {
    "root": ["unshare", "--mount", "--propagation", "private"],
    "user": ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"],
}
_DROP = "setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin --"


def read_only_wrapper(namespace: str, paths: list[str], argv: list[str]) -> list[str]:
    """`argv` started on the host with each of `paths` (absolute there) bind-mounted read-only
    onto itself in a private mount namespace; `namespace` is what namespace_probe() found there
    (`root` or `user`). The shell it runs is POSIX sh."""
    lines = ["set -e"]
    for path in paths:
        q = shlex.quote(path)
        lines += [f"mount --bind {q} {q}", f"mount -o remount,ro,bind {q}"]
    lines.append(f'if command -v setpriv >/dev/null 2>&1; then exec {_DROP} "$@"; fi')
    lines.append('exec "$@"')
    return [*_PREFIX[namespace], "/bin/sh", "-c", "; ".join(lines), "trainyard-mounts", *argv]


def permission_bits_note(name: str, address: str, why: str) -> str:
    """The driver log's line for a `ro_mount` input a host protects by permission bits only."""
    return (
        f"input {name}: read-only by permission bits only on {address}, which refused a private "
        f"mount namespace ({why or 'no reason given'}); a script running as root there can change "
        "its copy of the input (never your files, nor the host's cache). Allow user namespaces "
        "there (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces), or run as "
        "root, to have it mounted read-only"
    )


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
