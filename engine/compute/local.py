"""Run handles of scripts on this machine: one process group (LocalProcess), or the processes of a
distributed run (ProcessGroup; mpirun's single process group for MPI). `start_local` picks which."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from engine.compute import distributed
from engine.compute.procs import reap_leftovers, terminate_tree
from engine.runtime.distribution import Distribution
from engine.runtime.files import RunFiles

__all__ = ["LocalProcess", "ProcessGroup", "start_local"]


class LocalProcess:
    """The run handle of a local script: a process group we own."""

    failure: str | None = None
    failed_rank: int | None = None

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def terminate(self, grace: float) -> int:
        terminate_tree(self.popen, grace)
        return self.popen.wait()

    def cleanup(self) -> int:
        """End what the script left running; returns how many processes that was."""
        return reap_leftovers()

    def recorded_exit_code(self, code: int) -> int:
        return code  # Popen already says -N for a signal


class ProcessGroup:
    """The run handle of a pytorch run's processes: it ends when they all have, or as soon as one
    fails (the others are then ended, as torchrun does)."""

    failure: str | None = None

    def __init__(self, popens: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
        self.popens = popens
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
                terminate_tree(p, grace)
        codes = [p.wait() for p in self.popens]
        if self.failed_rank is not None:
            return codes[self.failed_rank]
        return next((c for c in codes if c != 0), 0)

    def cleanup(self) -> int:
        return reap_leftovers()

    def recorded_exit_code(self, code: int) -> int:
        return code


def start_local(argv: list[str], files: RunFiles, env: Mapping[str, str],
                dist: Distribution | None, grace: float) -> LocalProcess | ProcessGroup:
    """Start the script in `files.wd`, each process in its own process group (cancel ends the
    whole group): one process, or for a distributed run one per rank for pytorch (each with its
    own driver log, engine.compute.distributed) and mpirun's for mpi."""
    if dist is None:
        return LocalProcess(_popen(argv, files.wd, env, files.driver_log))
    files.system_logs.mkdir(parents=True, exist_ok=True)
    if dist.kind == "mpi":
        return LocalProcess(_popen(distributed.mpirun_argv(dist, argv), files.wd, env, files.driver_log))
    port = distributed.free_port()
    popens = [_popen(argv, files.wd, {**env, **distributed.rank_environment(dist, rank, port)},
                     files.system_logs / distributed.driver_log_name(rank))
              for rank in range(dist.world_size)]
    return ProcessGroup(popens, grace)


def _popen(argv: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab", buffering=0) as driver:
        return subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=driver,
                                stderr=subprocess.STDOUT, start_new_session=True)
