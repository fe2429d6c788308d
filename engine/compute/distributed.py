"""Distributed runs on this machine: several processes of one script, wired together the way
Azure ML wires them (`distribution: {type: pytorch|mpi|tensorflow}`, `resources.instance_count`;
the SDK's PyTorchConfiguration / MpiConfiguration / TensorflowConfiguration).

- pytorch: Trainyard starts `instance_count * process_count_per_instance` processes itself, each
  with the standard variables torch.distributed reads (MASTER_ADDR, MASTER_PORT, WORLD_SIZE,
  RANK, LOCAL_RANK, NODE_RANK) plus Azure's AZ_BATCHAI_PYTORCH_INIT_METHOD (tcp://ADDR:PORT)
  and AZ_BATCHAI_TASK_INDEX (the global rank). The "instances" are this machine: NODE_RANK counts
  them, as two torchrun nodes on 127.0.0.1 would.
- mpi: OpenMPI's `mpirun -np N` starts the processes (they read OMPI_COMM_WORLD_RANK & co.),
  each through engine.compute.rankexec, which gives it its own driver log.
- tensorflow: one process per worker and per parameter server, each with a TF_CONFIG that
  lists the whole cluster (every task on its own free port of 127.0.0.1) and names its task.

Every kind also gets Azure's node-level variables: AZUREML_NODE_COUNT, AZ_BATCH_MASTER_NODE
(ADDR:PORT), AZ_BATCHAI_MPI_MASTER_NODE and AZ_BATCHAI_JOB_MASTER_NODE_IP (ADDR),
AZ_BATCH_IS_CURRENT_NODE_MASTER (pytorch).

Each process writes its own driver log, named by engine.runtime.distribution
(`70_driver_log_<rank>.txt`, `70_driver_log_worker_<i>.txt`, `70_driver_log_ps_<i>.txt`); the
run's `70_driver_log.txt` keeps Trainyard's own lines (and mpirun's). A script's `$VAR` /
`${VAR}` arguments are expanded per process, with that process's variables
(engine.compute.rankexec.expand). As with torchrun, the first process that fails ends the others
and the run fails with its exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Sequence
from contextlib import ExitStack

from engine.compute import rankexec
from engine.errors import LaunchFailed
from engine.runtime import default_python
from engine.runtime.distribution import Distribution

LOCALHOST = "127.0.0.1"


def free_ports(n: int) -> list[int]:
    """`n` distinct ports free on 127.0.0.1 now (all held open together, so none repeats)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind((LOCALHOST, 0))
        return [int(s.getsockname()[1]) for s in socks]


def free_port() -> int:
    return free_ports(1)[0]


def node_environment(dist: Distribution, port: int) -> dict[str, str]:
    """Azure's node-level variables, the same in every process."""
    return {
        "AZUREML_NODE_COUNT": str(dist.instance_count),
        "AZ_BATCH_MASTER_NODE": f"{LOCALHOST}:{port}",
        "AZ_BATCHAI_MPI_MASTER_NODE": LOCALHOST,
        "AZ_BATCHAI_JOB_MASTER_NODE_IP": LOCALHOST,
    }


def rank_environment(dist: Distribution, rank: int, port: int) -> dict[str, str]:
    """The variables of process `rank` of a pytorch run."""
    per = dist.process_count_per_instance
    return {
        **node_environment(dist, port),
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
        "AZ_BATCH_IS_CURRENT_NODE_MASTER": "true" if rank // per == 0 else "false",
    }


def tf_config(dist: Distribution, index: int, ports: Sequence[int], hosts: Sequence[str] | None = None) -> str:
    """Process `index`'s TF_CONFIG: the cluster (workers, then parameter servers, one port each,
    on this machine or on `hosts[i]`) and its own task, as Azure ML writes it."""
    addresses = [f"{hosts[i] if hosts else LOCALHOST}:{p}" for i, p in enumerate(ports)]
    cluster: dict[str, list[str]] = {"worker": addresses[: dist.worker_count]}
    if dist.parameter_server_count:
        cluster["ps"] = addresses[dist.worker_count :]
    kind, i = dist.role(index)
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": i}, "environment": "cloud"})


def process_environments(dist: Distribution) -> list[dict[str, str]]:
    """The variables of each process Trainyard starts itself (pytorch, tensorflow), on free ports."""
    if dist.kind == "tensorflow":
        ports = free_ports(dist.world_size)
        node = node_environment(dist, ports[0])
        return [{**node, "TF_CONFIG": tf_config(dist, i, ports)} for i in range(dist.world_size)]
    port = free_port()
    return [rank_environment(dist, rank, port) for rank in range(dist.world_size)]


def mpi_environment(dist: Distribution) -> dict[str, str]:
    """What mpirun passes on to every rank, besides OpenMPI's own OMPI_COMM_WORLD_* variables."""
    port = free_port()
    return {**node_environment(dist, port), "MASTER_ADDR": LOCALHOST, "MASTER_PORT": str(port)}


def mpirun_argv(dist: Distribution, argv: Sequence[str], log_dir: str, expand_from: int | None) -> list[str]:
    """`mpirun` around the script's argv, each rank started through engine.compute.rankexec (its
    own driver log; its `$VAR` arguments from index `expand_from` on expanded with its own
    variables). LaunchFailed when OpenMPI is not installed."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise LaunchFailed(
            "an MPI job needs OpenMPI's `mpirun` on this machine, and it is not on PATH",
            "install it (Debian/Ubuntu: apt install openmpi-bin), or use `type: pytorch`",
        )
    extra = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    # -I: the launcher is standard library only; the run's PYTHONPATH is for the script it starts.
    launcher = [
        default_python(),
        "-I",
        rankexec.__file__,
        log_dir,
        str(-1 if expand_from is None else expand_from),
        "--",
    ]
    # --oversubscribe: more ranks than cores is what a laptop test of a cluster job looks like.
    return [
        mpirun,
        "-np",
        str(dist.world_size),
        "--oversubscribe",
        "--bind-to",
        "none",
        *extra,
        *launcher,
        *argv,
    ]
