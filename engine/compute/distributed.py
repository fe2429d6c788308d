"""Distributed runs on this machine: several processes of one script, wired together the way
Azure ML wires them (`distribution: {type: pytorch|mpi}`, `resources.instance_count`; the SDK's
PyTorchConfiguration / MpiConfiguration).

- pytorch: Trainyard starts `instance_count * process_count_per_instance` processes itself, each
  with the standard variables torch.distributed reads (MASTER_ADDR, MASTER_PORT, WORLD_SIZE,
  RANK, LOCAL_RANK, NODE_RANK) plus Azure's AZ_BATCHAI_PYTORCH_INIT_METHOD and
  AZ_BATCHAI_TASK_INDEX. The "instances" are this machine: NODE_RANK counts them, as two torchrun
  nodes on 127.0.0.1 would.
- mpi: OpenMPI's `mpirun -np N` starts the processes (they read OMPI_COMM_WORLD_RANK & co.);
  each output line is tagged with its rank.

Each pytorch process writes its own driver log: rank 0 the usual `70_driver_log.txt` (what
`job stream` follows), rank r `70_driver_log_<r>.txt`. As with torchrun, the first process that
fails ends the others and the run fails with its exit code.

The request itself (`Distribution`, validated by `make_distribution`) is part of the launch spec:
engine.runtime.distribution.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Sequence

from engine.errors import LaunchFailed
from engine.runtime.distribution import Distribution

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def rank_environment(dist: Distribution, rank: int, port: int) -> dict[str, str]:
    """The variables of process `rank` of a pytorch run."""
    per = dist.process_count_per_instance
    return {
        "MASTER_ADDR": LOCALHOST,
        "MASTER_PORT": str(port),
        "WORLD_SIZE": str(dist.world_size),
        "RANK": str(rank),
        "LOCAL_RANK": str(rank % per),
        "NODE_RANK": str(rank // per),
        "LOCAL_WORLD_SIZE": str(per),
        "GROUP_RANK": str(rank // per),
        "AZ_BATCHAI_PYTORCH_INIT_METHOD": f"tcp://{LOCALHOST}:{port}",
        "AZ_BATCHAI_TASK_INDEX": str(rank),
    }


def driver_log_name(rank: int) -> str:
    return "70_driver_log.txt" if rank == 0 else f"70_driver_log_{rank}.txt"


def mpirun_argv(dist: Distribution, argv: Sequence[str]) -> list[str]:
    """`mpirun` around the script's argv; LaunchFailed when OpenMPI is not installed."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise LaunchFailed("an MPI job needs OpenMPI's `mpirun` on this machine, and it is not on PATH",
                           "install it (Debian/Ubuntu: apt install openmpi-bin), or use `type: pytorch`")
    extra = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    # --oversubscribe: more ranks than cores is what a laptop test of a cluster job looks like.
    return [mpirun, "-np", str(dist.world_size), "--oversubscribe", "--tag-output", "--bind-to", "none",
            *extra, *argv]
