"""GPU assignment for runs in containers of the local Docker daemon: they draw from this machine's
GPUs (the FAKE nvidia-smi of tests/fixtures prints a recorded four-GPU inventory) and the container
is asked for exactly the assigned devices. This machine's daemon has no NVIDIA runtime, so it
refuses the device request, which shows the request reached it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

ROOT = Path(__file__).resolve().parents[2]
BASE = "trainyard-test-base:latest"


@pytest.fixture
def four_fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-gpu-bin"
    fake.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "fake_nvidia_smi", fake / "nvidia-smi")
    shutil.copy(ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv", fake)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TRAINYARD_GPU_LEASES", str(tmp_path / "leases"))


def test_a_container_run_gets_the_assigned_devices_and_shares_the_local_pool(
    tmp_path: Path, docker_client: Any, four_fake_gpus: None
) -> None:
    eng = Engine.open(tmp_path / "ws")
    try:
        eng.store.add_compute_target("gpu-docker", "docker", {"network": "none", "image": BASE})
        code = tmp_path / "p"
        code.mkdir()
        (code / "hold.py").write_text(
            "import os, sys, time\nprint('visible', os.environ.get('CUDA_VISIBLE_DEVICES'), flush=True)\n"
            "while not os.path.exists(sys.argv[1]):\n    time.sleep(0.05)\n"
        )
        release = tmp_path / "release"
        # A local run holds GPUs 0-2 of this machine: the container run must get GPU 3.
        local = eng.submit(
            JobSpec(experiment_name="g", code_dir=code, script="hold.py", arguments=(str(release),), gpus=3)
        ).name
        deadline = time.monotonic() + 60
        while "visible 0,1,2" not in (
            RunFiles(Path(eng.get_run(local).run_dir)).driver_log.read_text()
            if RunFiles(Path(eng.get_run(local).run_dir)).driver_log.exists()
            else ""
        ):
            assert time.monotonic() < deadline, "the local run never started"
            time.sleep(0.05)
        boxed = eng.wait(
            eng.submit(
                JobSpec(
                    experiment_name="g",
                    code_dir=code,
                    script="hold.py",
                    arguments=("/x",),
                    gpus=1,
                    compute="gpu-docker",
                )
            ).name,
            timeout=120,
        )
        log = RunFiles(Path(boxed.run_dir)).driver_log.read_text()
        assert boxed.properties["gpus_assigned"] == "3"
        assert "[trainyard] assigned GPU 3 of this machine (CUDA_VISIBLE_DEVICES=3)" in log
        if "nvidia" in (docker_client.info().get("Runtimes") or {}):
            assert boxed.status == "Completed", boxed.error  # (inside, the one device is numbered 0)
        else:
            assert boxed.status == "Failed" and "NVIDIA Container Toolkit" in (boxed.error or ""), boxed.error
        release.touch()
        assert eng.wait(local, timeout=60).status == "Completed"
    finally:
        eng.close()


def test_a_container_keeps_its_gpus_when_its_supervisor_is_killed(tmp_path: Path, docker_client: Any) -> None:
    """A container outlives a supervisor killed with -9: its main process (a pid of this machine,
    the daemon being local) holds the run's GPUs until the container ends."""
    import subprocess
    import sys

    from engine.compute.docker import ContainerRun
    from engine.compute.gpupool import Claim, GpuPool, Holder
    from engine.compute.procs import process_start_time, wait_pid_gone
    from engine.runs.gpuassign import script_pids
    from engine.runs.launch import INJECT_DIR

    run = ContainerRun(
        BASE,
        ["sleep", "300"],
        run_root=tmp_path / "run",
        env={},
        inject_dir=INJECT_DIR,
        name=f"gpu-keep-{tmp_path.name}",
        network="none",
        docker=docker_client,
    )
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        run.start()
        pids = script_pids(run)
        assert len(pids) == 1 and pids[0] > 0
        pool = GpuPool("local", tmp_path / "leases")
        holder = Holder("boxed", ((supervisor.pid, process_start_time(supervisor.pid)),), 1.0)
        assert pool.try_acquire(holder, Claim(count=4), [0, 1, 2, 3]) == [0, 1, 2, 3]
        pool.add_processes("boxed", pids)
        supervisor.kill()
        supervisor.wait()
        other = Holder("next", ((os.getpid(), process_start_time(os.getpid())),), 2.0)
        assert pool.try_acquire(other, Claim(count=1), [0, 1, 2, 3]) is None  # the container still runs
        run.terminate(1.0)
        assert wait_pid_gone(pids[0], 30)
        assert pool.try_acquire(other, Claim(count=1), [0, 1, 2, 3]) == [0]
    finally:
        supervisor.kill()
        supervisor.wait()
        run.remove()
