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
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidSpec, LaunchFailed

KINDS = ("pytorch", "mpi")
LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class Distribution:
    """How many processes, and how they find each other."""

    kind: str  # pytorch | mpi
    process_count_per_instance: int = 1
    instance_count: int = 1

    @property
    def world_size(self) -> int:
        return self.process_count_per_instance * self.instance_count

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "process_count_per_instance": self.process_count_per_instance,
                "instance_count": self.instance_count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Distribution:
        return cls(d["kind"], int(d["process_count_per_instance"]), int(d["instance_count"]))


def make_distribution(kind: str, process_count_per_instance: int | None, instance_count: int | None,
                      *, source: str | None = None) -> Distribution:
    """Validate a job's request; InvalidSpec says what to write instead."""
    if kind == "tensorflow":
        raise InvalidSpec("TensorFlow distribution (TF_CONFIG workers) is not available in this version "
                          "of Trainyard", "use `type: pytorch` or `type: mpi`, or run one process",
                          file=source, field="distribution.type")
    if kind not in KINDS:
        raise InvalidSpec(f"unknown distribution type {kind!r}", f"one of: {', '.join(KINDS)}",
                          file=source, field="distribution.type")
    per = 1 if process_count_per_instance is None else process_count_per_instance
    nodes = 1 if instance_count is None else instance_count
    if per < 1:
        raise InvalidSpec(f"`process_count_per_instance` must be 1 or more, not {per}", "e.g. 2",
                          file=source, field="distribution.process_count_per_instance")
    if nodes < 1:
        raise InvalidSpec(f"`instance_count` must be 1 or more, not {nodes}", "e.g. 1",
                          file=source, field="resources.instance_count")
    return Distribution(kind, per, nodes)


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


class ProcessGroup:
    """The run handle of a pytorch run's processes (the shape of LocalProcess): it ends when they
    all have, or as soon as one fails (the others are then ended, as torchrun does)."""

    def __init__(self, popens: list[subprocess.Popen[bytes]], terminate_tree: Callable[..., None],
                 reap_leftovers: Callable[[], int], grace: float = 10.0) -> None:
        self.popens = popens
        self._terminate_tree = terminate_tree
        self._reap = reap_leftovers
        self._grace = grace
        self.failed_rank: int | None = None

    @property
    def pid(self) -> int:
        return self.popens[0].pid

    def poll(self) -> int | None:
        codes = [p.poll() for p in self.popens]
        for rank, code in enumerate(codes):
            if code not in (None, 0):
                self.failed_rank = rank
                return code
        return None if any(c is None for c in codes) else 0

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self.poll()
            if code is not None:
                if code != 0:  # one failed: the others would wait for it forever
                    self.terminate(self._grace)
                return code
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("distributed run", timeout or 0)
            time.sleep(0.05)

    def terminate(self, grace: float) -> int:
        for p in self.popens:
            if p.poll() is None:
                self._terminate_tree(p, grace)
        codes = [p.wait() for p in self.popens]
        if self.failed_rank is not None:
            return codes[self.failed_rank]
        return next((c for c in codes if c != 0), 0)

    def cleanup(self) -> int:
        return self._reap()
