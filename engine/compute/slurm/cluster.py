"""A Slurm target's cluster as `trainyard compute show` and the studio's Compute page list it
(partitions, nodes, GPUs, the user's queue: engine.compute.slurm.status.overview), and whether it
can take a run now. Over SSH one connection to the login node serves the whole overview."""

from __future__ import annotations

from engine.compute.slurm.status import ClusterOverview, overview
from engine.compute.slurm.target import Login, SlurmTarget
from engine.entities import ComputeTarget
from engine.errors import LaunchFailed

__all__ = ["cluster_overview", "slurm_target"]


def slurm_target(target: ComputeTarget) -> SlurmTarget:
    """The settings of a registered `type: slurm` target (the login node's SSH keys under `ssh`)."""
    from engine.compute.targets import run_settings  # the one place that maps a target to settings

    return SlurmTarget.from_settings(target.name, run_settings(target)["slurm"])


def cluster_overview(target: ComputeTarget) -> ClusterOverview:
    """Ask the cluster now (seconds at most; an unreachable login node is an overview saying why)."""
    st = slurm_target(target)
    if st.local:
        try:
            return overview(Login(st))
        except LaunchFailed as exc:
            return ClusterOverview(error=exc.message)
    from engine.compute.ssh import SshTarget  # paramiko: only SSH login nodes load it
    from engine.compute.ssh.connection import Link

    ssh = SshTarget.from_config(target.name, st.ssh or {})
    link = Link(ssh, lambda _m: None, lambda _m: None)
    try:
        link.open()
    except LaunchFailed as exc:
        return ClusterOverview(error=f"could not reach the login node {ssh.hostname}: {exc.message}")
    try:
        return overview(Login(st, lambda cmd, timeout: link.exec(cmd, timeout=timeout)), user=ssh.user)
    finally:
        link.close()
