"""Run handles of scripts on this machine: one process group (LocalProcess), or the processes of a
distributed run (ProcessGroup; mpirun's single process group for MPI). `start_local` picks which."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from engine.compute import distributed, rankexec
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
    """The run handle of the processes Trainyard starts itself (pytorch, tensorflow): it ends when
    they all have, or as soon as one fails (the others are then ended, as torchrun does)."""

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
                dist: Distribution | None, grace: float, expand_from: int | None = None) -> LocalProcess | ProcessGroup:
    """Start the script in `files.wd`, each process in its own process group (cancel ends the
    whole group): one process, or for a distributed run one per rank for pytorch and tensorflow
    (each with its own variables and driver log, engine.compute.distributed) and mpirun's for mpi.

    `expand_from`: where the script's arguments start in `argv` (a ScriptRunConfig's argv list);
    their `$VAR`s are expanded with each process's own variables. None for a shell command,
    whose shell expands them."""
    if dist is None:
        return LocalProcess(_popen(rankexec.expand_argv(argv, env, expand_from), files.wd, env, files.driver_log))
    files.system_logs.mkdir(parents=True, exist_ok=True)
    _note(files, f"{dist.world_size} processes ({dist.kind}): each writes its output to azureml-logs/"
                 f"{dist.log_name(0)}{', ' + dist.log_name(1) if dist.world_size > 1 else ''}"
                 f"{', ...' if dist.world_size > 2 else ''}")
    if dist.kind == "mpi":
        mpi_env = {**env, **distributed.mpi_environment(dist)}
        wrapped = distributed.mpirun_argv(dist, argv, str(files.system_logs), expand_from)
        return LocalProcess(_popen(wrapped, files.wd, mpi_env, files.driver_log))
    popens = []
    for index, own in enumerate(distributed.process_environments(dist)):
        penv = {**env, **own}
        popens.append(_popen(rankexec.expand_argv(argv, penv, expand_from), files.wd, penv,
                             files.system_logs / dist.log_name(index)))
    return ProcessGroup(popens, grace)


def _note(files: RunFiles, msg: str) -> None:
    with open(files.driver_log, "a") as f:
        f.write(f"[trainyard] {msg}\n")


def _popen(argv: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab", buffering=0) as driver:
        return subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=driver,
                                stderr=subprocess.STDOUT, start_new_session=True)
