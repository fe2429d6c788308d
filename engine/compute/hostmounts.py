"""`ro_mount` inputs read-only for real on a host Trainyard reaches by shell (an SSH host, a Slurm
node), as they are on this machine (engine.compute.mounts): the script starts in a private mount
namespace in which each input is bind-mounted read-only onto itself (`unshare --mount` as root;
`unshare --user --map-root-user --mount` as another user), and the capability to remount is
dropped (`setpriv`, where the host has it). Where the host refuses namespaces the files are
read-only by permission bits only, and the run's driver log says so for each such input
(`permission_bits_note`)."""

from __future__ import annotations

import shlex

from engine.runtime.dataplan import DataPlan

__all__ = ["namespace_probe", "permission_bits_note", "read_only_paths", "read_only_wrapper"]

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


def read_only_paths(plan: DataPlan | None, remote: str) -> dict[str, str]:
    """The folders under `remote` to make read-only, by input name: each ro_mount input's (a file
    input: its folder)."""
    inputs = plan.read_only_inputs if plan is not None else []
    return {i.name: f"{remote}/{i.rel.rsplit('/', 1)[0] if i.is_file else i.rel}" for i in inputs if i.rel}


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
