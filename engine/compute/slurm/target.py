"""A `type: slurm` compute target's settings (`SlurmTarget`) and where Slurm's commands run: on this
machine (`local: true`, Trainyard runs on the login node) or on the login node over SSH (through
engine.compute.ssh's reconnecting link).

Compute YAML::

    name: cluster
    type: slurm
    local: true                # or host/port/user/key_file/known_hosts: the login node over SSH
    partition: gpu             # the job's partition (else Slurm's default)
    account: ml-team           # --account
    qos: normal                # --qos
    time_limit: "2:00:00"      # --time of jobs that set no max_run_duration_seconds
    work_dir: /shared/trainyard/runs   # on the cluster's shared filesystem
    gpu_request: gpus-per-node # or gres: how `resources.gpus` is asked for (--gres=gpu:N)
    sbatch: ["--constraint=a100", "--mail-type=END"]   # extra #SBATCH lines
    mpi: pmix                  # srun --mpi= for `distribution: mpi` jobs (pmi2, none; default: the
                               # cluster's MpiDefault)
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import LaunchFailed

__all__ = ["CommandResult", "Login", "SlurmTarget", "slurm_time"]

COMMAND_TIMEOUT = 60.0


def slurm_time(seconds: float) -> str:
    """`max_run_duration_seconds` as Slurm's --time (H:MM:SS; Slurm rounds up to whole minutes)."""
    total = max(1, int(-(-seconds // 1)))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


@dataclass(frozen=True)
class SlurmTarget:
    """Where and how a run is submitted (the compute target's settings, plus the job's GPUs)."""

    name: str
    local: bool
    ssh: dict[str, Any] | None  # the login node's SSH settings (engine.compute.ssh.SshTarget)
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit: str | None = None
    work_dir: str | None = None
    gpu_request: str = "gpus-per-node"
    sbatch: tuple[str, ...] = ()
    mpi: str = "pmix"  # how srun wires up an MPI job's ranks; "default": the cluster's MpiDefault
    gpus: int | None = None  # the job's resources.gpus (per node)
    keep_remote_files: bool = False

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any]) -> SlurmTarget:
        gpus = settings.get("gpus")
        ssh = {k: v for k, v in (settings.get("ssh") or {}).items() if v is not None} or None
        return cls(
            name=name,
            local=bool(settings.get("local")),
            ssh=ssh,
            partition=settings.get("partition"),
            account=settings.get("account"),
            qos=settings.get("qos"),
            time_limit=settings.get("time_limit"),
            work_dir=settings.get("work_dir"),
            gpu_request=str(settings.get("gpu_request") or "gpus-per-node"),
            sbatch=tuple(settings.get("sbatch") or ()),
            mpi=str(settings.get("mpi") or "pmix"),
            gpus=int(gpus) if isinstance(gpus, int) or (isinstance(gpus, str) and gpus.isdigit()) else None,
            keep_remote_files=bool(settings.get("keep_remote_files")),
        )

    @property
    def where(self) -> str:
        return "this machine" if self.local else str((self.ssh or {}).get("host", "?"))


@dataclass(frozen=True)
class CommandResult:
    code: int
    out: str
    err: str

    def text(self) -> str:
        return (self.err.strip() or self.out.strip() or f"exit code {self.code}").splitlines()[-1]


class Login:
    """Runs Slurm's client commands where the target says: here, or on the login node over SSH
    (`exec`: the SSH link's exec, returning (stdout, stderr, exit code))."""

    def __init__(
        self, target: SlurmTarget, exec_: Callable[[str, float], tuple[str, str, int]] | None = None
    ) -> None:
        self.target = target
        self._exec = exec_

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> CommandResult:
        if self._exec is not None:
            out, err, code = self._exec(shlex.join(argv), timeout)
            return CommandResult(code, out, err)
        try:
            res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise LaunchFailed(
                f"Slurm's `{argv[0]}` is not on PATH on this machine (compute target "
                f"{self.target.name!r} has `local: true`)",
                "run Trainyard on the cluster's login node, or give the target the login "
                "node's `host:` instead of `local: true`",
            ) from None
        except subprocess.TimeoutExpired:
            return CommandResult(124, "", f"`{argv[0]}` did not answer within {timeout:.0f} s")
        return CommandResult(res.returncode, res.stdout, res.stderr)
