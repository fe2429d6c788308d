"""A run on an SSH target outlives its supervisor: kill -9 the supervisor mid-run, open the
workspace again (what starting Trainyard does), and a new supervisor takes the run over. Against
the real throwaway sshd of tests/engine/runs/sshd.py, with real processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import test_ssh_compute
from test_local_runs import wait_status

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.runtime.distribution import make_distribution

# The SSH fixtures (a throwaway sshd, a target registered on it), shared with test_ssh_compute.
sshd = test_ssh_compute.sshd
target = test_ssh_compute.target

COUNT = """
import sys, time
from azureml.core import Run
run = Run.get_context()
n = int(sys.argv[1])
for i in range(n):
    run.log("x", float(i))
    print("line", i, flush=True)
    time.sleep(0.03)
print("done", flush=True)
"""
N = 400


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _kill_supervisor_under_way(eng: Engine, run_name: str, metric: str) -> int:
    """Once the run is Running and `metric` has 30 points, kill -9 its supervisor; its pid."""
    wait_status(eng, run_name, {"Running"}, timeout=60)
    deadline = time.monotonic() + 60
    while eng.metric_history(run_name, metric).values.size < 30:
        assert time.monotonic() < deadline, "no metrics arrived"
        time.sleep(0.05)
    first = eng.get_run(run_name).supervisor_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert _gone(first)
    return first


def test_a_killed_supervisor_is_replaced_and_nothing_is_lost_or_doubled(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                                         ws_dir: Path) -> None:
    work = target()
    code = project({"count.py": COUNT})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="count.py", arguments=(str(N),),
                             compute="far"))
    first = _kill_supervisor_under_way(eng, run.name, "x")
    remote_log = work / run.name / "driver.log"
    size = remote_log.stat().st_size
    time.sleep(1.5)
    assert remote_log.stat().st_size > size  # the script goes on on the host, unobserved
    assert eng.get_run(run.name).status == "Running"

    again = Engine.open(ws_dir)  # Trainyard starts again: reconcile reattaches
    try:
        second = again.get_run(run.name).supervisor_pid
        assert second is not None and second != first
        final = again.wait(run.name, timeout=120)
        assert final.status == "Completed", final.error
        assert again.metric_history(run.name, "x").values.tolist() == [float(i) for i in range(N)]
        log = RunFiles(Path(final.run_dir)).driver_log.read_text()
        lines = [ln for ln in log.splitlines() if ln.startswith("line ")]
        assert lines == [f"line {i}" for i in range(N)]
        assert log.count("done") == 1
        assert "reattached (the run's supervisor was restarted)" in log
        assert not (work / run.name).exists()  # cleaned up by the new supervisor
    finally:
        again.close()


RANK_COUNT = """
import os, sys, time
from azureml.core import Run
run = Run.get_context()
rank = os.environ["OMPI_COMM_WORLD_RANK"]
for i in range(int(sys.argv[1])):
    run.log(f"x_{rank}", float(i))
    print("line", i, flush=True)
    time.sleep(0.03)
"""


def test_an_mpi_run_outlives_its_supervisor_too(eng: Engine, project, target, sshd, ws_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """mpirun is the script on node 0's host: a new supervisor takes it over, and each rank's
    metrics and driver log go on from where they were, the other host's folder removed at the end."""
    work = target(hosts=["127.0.0.1", "localhost"])
    known = sshd.known_hosts.read_text()  # the second name's key: the same sshd's
    sshd.known_hosts.write_text(known + known.replace("[127.0.0.1]", "[localhost]"))
    code = project({"count.py": RANK_COUNT})
    dist = make_distribution("mpi", 1, 2)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="count.py", arguments=(str(N),),
                             compute="far", distribution=dist))
    _kill_supervisor_under_way(eng, run.name, "x_1")  # both ranks well under way

    again = Engine.open(ws_dir)  # Trainyard starts again: reconcile reattaches
    try:
        final = again.wait(run.name, timeout=120)
        assert final.status == "Completed", final.error
        files = RunFiles(Path(final.run_dir))
        assert "reattached (the run's supervisor was restarted)" in files.driver_log.read_text()
        for rank in (0, 1):
            assert again.metric_history(run.name, f"x_{rank}").values.tolist() == [float(i) for i in range(N)]
            log = (files.system_logs / dist.log_name(rank)).read_text()
            assert [ln for ln in log.splitlines() if ln.startswith("line ")] == [f"line {i}" for i in range(N)]
        assert not (work / run.name).exists()
    finally:
        again.close()


TORCH_RANK_COUNT = RANK_COUNT.replace('os.environ["OMPI_COMM_WORLD_RANK"]', 'os.environ["RANK"]')


def test_a_distributed_run_outlives_its_supervisor_every_process_taken_over(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                                             ws_dir: Path) -> None:
    """A pytorch run over two hosts (each process its own detached group and folder): a new
    supervisor takes every process over; each one's metrics and driver log go on where they were,
    and each node's system samples too."""
    work = target(hosts=["127.0.0.1", "127.0.0.1"])
    code = project({"count.py": TORCH_RANK_COUNT})
    dist = make_distribution("pytorch", 1, 2)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="count.py", arguments=(str(N),),
                             compute="far", distribution=dist,
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"}))
    _kill_supervisor_under_way(eng, run.name, "x_1")  # both processes well under way

    again = Engine.open(ws_dir)  # Trainyard starts again: reconcile reattaches
    try:
        final = again.wait(run.name, timeout=120)
        assert final.status == "Completed", final.error
        files = RunFiles(Path(final.run_dir))
        for rank in (0, 1):
            assert again.metric_history(run.name, f"x_{rank}").values.tolist() == [float(i) for i in range(N)]
            log = (files.system_logs / dist.log_name(rank)).read_text()
            assert [ln for ln in log.splitlines() if ln.startswith("line ")] == [f"line {i}" for i in range(N)]
            pulled = (files.root / f"system-metrics-node{rank}.jsonl").read_bytes().splitlines()
            cpu = again.metric_history(run.name, f"system/node{rank}/cpu_percent")
            assert cpu.steps.tolist() == list(range(len(pulled))) and len(pulled) >= 10  # each once
        assert not any(work.iterdir())  # every process's folder removed by the new supervisor
    finally:
        again.close()
