"""The GPU lease table of one machine: which run holds which GPU, and who waits for them, shared
by every run's supervisor (each its own process).

One pool per machine whose GPUs runs draw from: ``local`` (this machine: local runs and the
containers of the local Docker daemon) and one per SSH host (``user@host:port``). A pool is a
JSON file next to a lock file under ``leases_dir()``; every read-modify-write holds an exclusive
``flock`` on the lock file, so two supervisors never take the same GPU.

A lease names its run and the processes that keep it: the supervisor, and once the script runs
here, the script's processes (a supervisor killed with -9 leaves its script on the GPUs; they stay
taken until that ends too). Leases and queue entries whose processes are all gone are dropped by
the next reader: GPUs come back when a supervisor dies, without anyone cleaning up.

Waiting runs queue in submission order: a run takes GPUs only when no live run submitted before
it still waits on the same pool (first come, first served: a small request never overtakes a
big one that came first).

Leases are per user: ``$TRAINYARD_GPU_LEASES``, else ``$TRAINYARD_HOME/gpu-leases``, else
``$XDG_STATE_HOME/trainyard/gpu-leases`` (``~/.local/state/...``); every workspace of the user
shares them, as the GPUs are the machine's, not a workspace's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.compute.procs import is_same_process_alive, process_start_time
from engine.tracking.inject.trainyard_run.envvars import ENV_HOME

ENV_GPU_LEASES = "TRAINYARD_GPU_LEASES"
LOCAL_POOL = "local"

__all__ = [
    "ENV_GPU_LEASES",
    "LOCAL_POOL",
    "Claim",
    "GpuPool",
    "Holder",
    "PoolState",
    "leases_dir",
    "this_process",
]


def leases_dir() -> Path:
    given = os.environ.get(ENV_GPU_LEASES)
    if given:
        return Path(given).expanduser()
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser() / "gpu-leases"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "trainyard" / "gpu-leases"


@dataclass(frozen=True)
class Holder:
    """A run and the processes (pid, start time) that keep its claim alive."""

    run: str
    processes: tuple[tuple[int, float | None], ...]
    submitted: float = 0.0  # when the run was submitted: the queue's order

    @property
    def alive(self) -> bool:
        return any(is_same_process_alive(pid, started) for pid, started in self.processes)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "processes": [list(p) for p in self.processes], "submitted": self.submitted}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Holder:
        procs = tuple((int(p[0]), None if p[1] is None else float(p[1])) for p in data.get("processes", []))
        return cls(str(data["run"]), procs, float(data.get("submitted") or 0.0))


@dataclass(frozen=True)
class Claim:
    """What a run asks for: `count` GPUs, or exactly the GPUs `ids`."""

    count: int = 0
    ids: tuple[int, ...] = ()

    @property
    def wanted(self) -> int:
        return len(self.ids) if self.ids else self.count

    def describe(self) -> str:
        if self.ids:
            return "GPU" + ("s " if len(self.ids) > 1 else " ") + ", ".join(map(str, self.ids))
        return f"{self.count} GPU" + ("" if self.count == 1 else "s")


@dataclass
class PoolState:
    """The table as read under the lock: GPU index -> holder, and the waiting runs."""

    leases: dict[int, Holder] = field(default_factory=dict)
    queue: list[tuple[Holder, Claim]] = field(default_factory=list)

    def holder_of(self, run: str) -> list[int]:
        return sorted(i for i, h in self.leases.items() if h.run == run)


def _pool_file_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", key)


class GpuPool:
    """The lease table of the machine `key` (LOCAL_POOL, or an SSH host's `user@host:port`)."""

    def __init__(self, key: str, root: Path | None = None) -> None:
        self.key = key
        self.root = root if root is not None else leases_dir()
        name = _pool_file_name(key)
        self.path = self.root / f"{name}.json"
        self.lock_path = self.root / f"{name}.lock"

    # ---------------------------------------------------------------- the table
    @contextlib.contextmanager
    def _locked(self) -> Iterator[PoolState]:
        """The table under an exclusive lock, pruned of the dead; written back on leaving."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._read()
                yield state
                self._write(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> PoolState:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return PoolState()  # none yet, or damaged: the live supervisors claim again
        state = PoolState()
        for index, holder in (data.get("leases") or {}).items():
            h = Holder.from_json(holder)
            if h.alive:
                state.leases[int(index)] = h
        for entry in data.get("queue") or []:
            h = Holder.from_json(entry["holder"])
            if h.alive:
                state.queue.append((h, Claim(int(entry.get("count", 0)), tuple(entry.get("ids", ())))))
        return state

    def _write(self, state: PoolState) -> None:
        data = {
            "pool": self.key,
            "leases": {str(i): h.to_json() for i, h in sorted(state.leases.items())},
            "queue": [{"holder": h.to_json(), "count": c.count, "ids": list(c.ids)} for h, c in state.queue],
        }
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)

    def state(self) -> PoolState:
        """The live leases and queue now (for pages and `compute show`)."""
        with self._locked() as state:
            return state

    # ---------------------------------------------------------------- claims
    def try_acquire(self, holder: Holder, claim: Claim, gpus: Sequence[int]) -> list[int] | None:
        """Take the GPUs `claim` asks for out of `gpus` (the machine's indices) when they are free
        and no run submitted earlier waits here; else queue (once) and return None. A run that
        already holds GPUs here gets the same ones back (a supervisor taking over its run)."""
        with self._locked() as state:
            held = state.holder_of(holder.run)
            if held:
                for i in held:
                    state.leases[i] = holder
                self._dequeue(state, holder.run)
                return held
            if not any(h.run == holder.run for h, _c in state.queue):
                state.queue.append((holder, claim))
                state.queue.sort(key=lambda e: (e[0].submitted, e[0].run))
            if state.queue[0][0].run != holder.run:
                return None  # someone came first
            free = [i for i in gpus if i not in state.leases]
            if claim.ids:
                taken = list(claim.ids) if all(i in free for i in claim.ids) else None
            else:
                taken = free[: claim.count] if len(free) >= claim.count else None
            if taken is None:
                return None
            for i in taken:
                state.leases[i] = holder
            self._dequeue(state, holder.run)
            return taken

    def add_processes(self, run: str, pids: Sequence[int]) -> None:
        """The script's processes keep the run's GPUs too (they outlive a killed supervisor)."""
        with self._locked() as state:
            for i, h in list(state.leases.items()):
                if h.run == run:
                    known = {p for p, _s in h.processes}
                    extra = tuple((p, process_start_time(p)) for p in pids if p not in known)
                    state.leases[i] = Holder(h.run, h.processes + extra, h.submitted)

    def release(self, run: str) -> list[int]:
        """Give back what `run` holds and leave the queue; returns the GPUs given back."""
        with self._locked() as state:
            freed = state.holder_of(run)
            for i in freed:
                del state.leases[i]
            self._dequeue(state, run)
            return freed

    @staticmethod
    def _dequeue(state: PoolState, run: str) -> None:
        state.queue = [(h, c) for h, c in state.queue if h.run != run]


def this_process(run: str, submitted: float) -> Holder:
    """The holder for `run` whose claim lives as long as this process does."""
    pid = os.getpid()
    return Holder(run, ((pid, process_start_time(pid)),), submitted)
