"""Inputs and outputs on the machine that runs the script, and read-only inputs for real.

`ro_mount` is enforced by the kernel, not by permission bits (root ignores those, and a hard link
would share the user's file): the script runs in a private mount namespace (`unshare --mount`;
as a user who is not root, inside a user namespace: `--user --map-root-user`) in which each input
is bind-mounted read-only where the script finds it, and the user's own path is made read-only
there too. Any write (open for writing, chmod, a hard link made to write through) fails with
EROFS. The capability to remount is dropped before the script starts (`setpriv`), so even root
cannot undo it. A container gets the same from Docker's read-only bind (engine.compute.docker).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from engine.data.content import copy_tree
from engine.errors import LaunchFailed
from engine.runtime.dataplan import DataPlan

__all__ = ["namespace_prefix", "prepare_run_data", "read_only_argv"]


def prepare_run_data(plan: DataPlan, run_root: Path, *, inputs: bool = True) -> None:
    """Make what the script finds in the run folder: a private copy of each `download` input, an
    empty mount point for each `ro_mount` input, an empty folder (or a file's folder) for each
    output. `inputs=False` (an SSH run: its inputs are sent there) makes only the outputs."""
    for out in plan.outputs:
        target = run_root / out.rel
        (target.parent if out.is_file else target).mkdir(parents=True, exist_ok=True)
    if not inputs:
        return
    for inp in plan.inputs:
        if inp.rel is None:
            continue
        target = run_root / inp.rel
        if inp.mode == "download":
            copy_tree(Path(inp.source), target)
        elif inp.is_file:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)


def namespace_prefix() -> list[str]:
    """How to enter a private mount namespace as this user."""
    if os.geteuid() == 0:
        return ["unshare", "--mount", "--propagation", "private"]
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]


@functools.cache
def _namespace_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) is not installed"
    try:
        done = subprocess.run([*namespace_prefix(), "true"], check=False, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip() or f"unshare exited with code {done.returncode}"
    return None


def read_only_argv(plan: DataPlan, run_root: Path, argv: list[str]) -> list[str]:
    """`argv` run with the plan's ro_mount inputs mounted read-only (argv unchanged when it has none)."""
    binds = plan.read_only_inputs
    if not binds:
        return argv
    problem = _namespace_problem()
    if problem is not None:
        raise LaunchFailed(
            f"read-only inputs need a private mount namespace, which this machine refused: {problem}",
            "give the inputs `mode: download` (a private copy), or allow user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1)",
        )
    lines = ["set -e"]
    run_root = run_root.resolve()
    for inp in binds:
        src = str(Path(inp.source).resolve())
        dst = shlex.quote(str(run_root / str(inp.rel)))
        lines += [f"mount --bind {shlex.quote(src)} {dst}", f"mount -o remount,ro,bind {dst}"]
        # The user's own path too, unless the run folder lies inside it (the run must write there).
        if not run_root.is_relative_to(src):
            q = shlex.quote(src)
            lines += [f"mount --bind {q} {q}", f"mount -o remount,ro,bind {q}"]
    drop = ""
    if shutil.which("setpriv"):
        drop = "setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin -- "
    lines.append(f'exec {drop}"$@"')
    return [*namespace_prefix(), "/bin/sh", "-c", "; ".join(lines), "trainyard-mounts", *argv]
