"""The GPU lease table (engine.compute.gpupool) shared by run supervisors: disjoint leases, first
come first served, and GPUs that come back when their holders' processes die (real processes
killed with -9, not pretend ones)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.compute.gpupool import Claim, GpuPool, Holder
from engine.compute.procs import process_start_time, wait_pid_gone

GPUS = [0, 1, 2, 3]


@pytest.fixture
def spawn() -> Iterator:  # type: ignore[type-arg]
    """spawn(run, submitted) -> (holder, process): a holder kept alive by a real sleeping process."""
    procs: list[subprocess.Popen[bytes]] = []

    def make(run: str, submitted: float) -> tuple[Holder, subprocess.Popen[bytes]]:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        procs.append(p)
        return Holder(run, ((p.pid, process_start_time(p.pid)),), submitted), p

    yield make
    for p in procs:
        p.kill()
        p.wait()


def test_two_runs_get_disjoint_gpus_and_a_third_waits(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    pool = GpuPool("local", tmp_path)
    a, _ = spawn("a", 1.0)
    b, _ = spawn("b", 2.0)
    c, _ = spawn("c", 3.0)
    assert pool.try_acquire(a, Claim(count=2), GPUS) == [0, 1]
    assert pool.try_acquire(b, Claim(count=2), GPUS) == [2, 3]
    assert pool.try_acquire(c, Claim(count=1), GPUS) is None
    state = pool.state()
    assert {i: h.run for i, h in state.leases.items()} == {0: "a", 1: "a", 2: "b", 3: "b"}
    assert [h.run for h, _c in state.queue] == ["c"]
    assert pool.release("a") == [0, 1]
    assert pool.try_acquire(c, Claim(count=1), GPUS) == [0]
    assert pool.state().queue == []


def test_waiting_runs_are_served_in_submission_order(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    pool = GpuPool("local", tmp_path)
    a, _ = spawn("a", 1.0)
    big, _ = spawn("big", 2.0)
    small, _ = spawn("small", 3.0)
    assert pool.try_acquire(a, Claim(count=2), GPUS) == [0, 1]
    assert pool.try_acquire(big, Claim(count=3), GPUS) is None
    # 2 GPUs are free, but the big run came first: the small one does not overtake it.
    assert pool.try_acquire(small, Claim(count=1), GPUS) is None
    pool.release("a")
    assert pool.try_acquire(small, Claim(count=1), GPUS) is None
    assert pool.try_acquire(big, Claim(count=3), GPUS) == [0, 1, 2]
    assert pool.try_acquire(small, Claim(count=1), GPUS) == [3]


def test_exact_device_ids_wait_for_those_gpus(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    pool = GpuPool("local", tmp_path)
    a, _ = spawn("a", 1.0)
    b, _ = spawn("b", 2.0)
    assert pool.try_acquire(a, Claim(ids=(1,)), GPUS) == [1]
    assert pool.try_acquire(b, Claim(ids=(1, 3)), GPUS) is None
    pool.release("a")
    assert pool.try_acquire(b, Claim(ids=(1, 3)), GPUS) == [1, 3]


def test_gpus_come_back_when_every_holding_process_is_killed(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    pool = GpuPool("ssh-root@gpu-box:22", tmp_path)
    a, supervisor = spawn("a", 1.0)
    b, _ = spawn("b", 2.0)
    assert pool.try_acquire(a, Claim(count=4), GPUS) == [0, 1, 2, 3]
    script = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        pool.add_processes("a", [script.pid])
        supervisor.kill()  # kill -9: no chance to release anything
        assert wait_pid_gone(supervisor.pid, 10)
        supervisor.wait()
        # Its script still runs on the GPUs: they stay taken.
        assert pool.try_acquire(b, Claim(count=1), GPUS) is None
        script.kill()
        script.wait()
        assert pool.try_acquire(b, Claim(count=1), GPUS) == [0]
    finally:
        script.kill()
        script.wait()
    # The file says which pool it is and holds only the living.
    data = json.loads(pool.path.read_text())
    assert data["pool"] == "ssh-root@gpu-box:22" and list(data["leases"]) == ["0"]


def test_a_dead_waiter_leaves_the_queue(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    pool = GpuPool("local", tmp_path)
    a, _ = spawn("a", 1.0)
    first, first_proc = spawn("first", 2.0)
    second, _ = spawn("second", 3.0)
    assert pool.try_acquire(a, Claim(count=3), GPUS) == [0, 1, 2]
    assert pool.try_acquire(first, Claim(count=2), GPUS) is None
    assert pool.try_acquire(second, Claim(count=1), GPUS) is None  # behind `first`
    first_proc.kill()
    first_proc.wait()
    assert pool.try_acquire(second, Claim(count=1), GPUS) == [3]


def test_a_run_that_holds_gpus_gets_the_same_ones_back(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    """A supervisor taking over its run (after a restart) keeps the run's GPUs."""
    pool = GpuPool("local", tmp_path)
    a, _ = spawn("a", 1.0)
    again, _ = spawn("a", 1.0)
    assert pool.try_acquire(a, Claim(count=2), [0, 1, 2, 3]) == [0, 1]
    assert pool.try_acquire(again, Claim(count=2), [0, 1, 2, 3]) == [0, 1]


def test_a_damaged_table_is_rebuilt_by_the_living(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    pool = GpuPool("local", tmp_path)
    tmp_path.mkdir(exist_ok=True)
    pool.path.write_text("{not json")
    a, _ = spawn("a", 1.0)
    assert pool.try_acquire(a, Claim(count=1), GPUS) == [0]


def test_a_request_becomes_a_claim_and_an_assignment_becomes_the_runs_settings() -> None:
    from engine.runs.gpuassign import apply_assignment, claim_of
    from engine.runtime.launchspec import LaunchSpec, Placement

    assert claim_of(None, GPUS) is None and claim_of(0, GPUS) is None
    assert claim_of(2, GPUS) == Claim(count=2)
    assert claim_of(-1, GPUS) == Claim(ids=(0, 1, 2, 3))  # all: every GPU of the machine
    assert claim_of("device=1,3", GPUS) == Claim(ids=(1, 3))
    assert claim_of("device=GPU-5f1c,GPU-77aa", GPUS) is None  # UUIDs go to Docker as given

    spec = LaunchSpec("r", "sqlite://", "", env={"A": "1"}, placement=Placement(compute="docker", gpus=2))
    got = apply_assignment(spec, [1, 3])
    assert got.env == {"A": "1", "CUDA_VISIBLE_DEVICES": "1,3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert got.placement.gpus == "device=1,3"  # a container gets exactly those devices
    hidden = apply_assignment(spec, [])
    assert hidden.env["CUDA_VISIBLE_DEVICES"] == "" and hidden.placement.gpus == 0
