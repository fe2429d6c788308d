"""Distributed runs on this machine: `distribution: {type: pytorch|mpi}` with
`resources.instance_count`, and the SDK's PyTorchConfiguration / MpiConfiguration. Real processes,
a real torch.distributed (gloo) all-reduce, a real OpenMPI mpirun."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.api import Engine
from engine.runs.files import RunFiles
from engine.specs.jobs import load_job

SHOW_RANK = """
import os, sys
from azureml.core import Run
keys = ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "AZ_BATCHAI_PYTORCH_INIT_METHOD", "AZ_BATCHAI_TASK_INDEX")
print("env " + " ".join(f"{k}={os.environ.get(k)}" for k in keys), flush=True)
Run.get_context().log("rank", int(os.environ["RANK"]))
"""

ALL_REDUCE = """
import torch
import torch.distributed as dist
dist.init_process_group("gloo")
t = torch.tensor([dist.get_rank() + 1.0])
dist.all_reduce(t)
print(f"rank {dist.get_rank()} of {dist.get_world_size()}: sum {t.item():g}", flush=True)
dist.destroy_process_group()
"""

ONE_FAILS = """
import os, sys, time
if os.environ["RANK"] == "1":
    print("rank 1 gives up: no data shard", flush=True)
    sys.exit(3)
time.sleep(120)  # rank 0 would wait for rank 1 forever
"""


def write_job(folder: Path, script: str, body: str) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "train.py").write_text(textwrap.dedent(script))
    path = folder / "job.yml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def logs(run: Any) -> dict[str, str]:
    """The driver logs of a run's processes, by file name (not the run's own 70_driver_log.txt)."""
    folder = RunFiles(Path(run.run_dir)).system_logs
    found = {p.name: p.read_text() for p in folder.glob("70_driver_log_*.txt")}
    return dict(sorted(found.items(), key=lambda kv: [int(t) if t.isdigit() else t
                                                      for t in re.split(r"(\d+)", kv[0])]))


def test_pytorch_distribution_starts_every_rank_with_its_variables_and_log(eng: Engine, tmp_path: Path) -> None:
    path = write_job(tmp_path / "proj", SHOW_RANK, """
        command: python train.py
        code: src
        distribution: {type: pytorch, process_count_per_instance: 2}
        resources: {instance_count: 2}
        """)
    final = eng.wait(eng.submit(load_job(path)).name, timeout=60)
    by_file = logs(final)
    assert final.status == "Completed", (final.error, by_file)
    # Azure's names: every process's own log, rank 0's too.
    assert list(by_file) == ["70_driver_log_0.txt", "70_driver_log_1.txt", "70_driver_log_2.txt", "70_driver_log_3.txt"]
    ports = set()
    for rank, (name, text) in enumerate(by_file.items()):
        (line,) = [ln for ln in text.splitlines() if ln.startswith("env ")]
        env = dict(kv.split("=", 1) for kv in line.split()[1:])
        assert (env["RANK"], env["LOCAL_RANK"], env["NODE_RANK"], env["WORLD_SIZE"]) == (
            str(rank), str(rank % 2), str(rank // 2), "4"), name
        assert env["MASTER_ADDR"] == "127.0.0.1" and env["AZ_BATCHAI_TASK_INDEX"] == str(rank)
        assert env["AZ_BATCHAI_PYTORCH_INIT_METHOD"] == f"tcp://127.0.0.1:{env['MASTER_PORT']}"
        ports.add(env["MASTER_PORT"])
    assert len(ports) == 1
    # Every rank's metrics reach the run, once each.
    assert sorted(eng.metric_history(final.name, "rank").values.tolist()) == [0, 1, 2, 3]
    assert final.properties["distribution"] == {"kind": "pytorch", "process_count_per_instance": 2,
                                                 "instance_count": 2}


def test_torch_distributed_all_reduce_across_two_processes(eng: Engine, tmp_path: Path) -> None:
    path = write_job(tmp_path / "proj", ALL_REDUCE, """
        command: python train.py
        code: src
        distribution: {type: pytorch, process_count_per_instance: 2}
        """)
    final = eng.wait(eng.submit(load_job(path)).name, timeout=180)
    by_file = logs(final)
    assert final.status == "Completed", (final.error, by_file)
    assert "rank 0 of 2: sum 3" in by_file["70_driver_log_0.txt"]
    assert "rank 1 of 2: sum 3" in by_file["70_driver_log_1.txt"]


def test_the_first_rank_that_fails_ends_the_others_and_fails_the_run(eng: Engine, tmp_path: Path) -> None:
    path = write_job(tmp_path / "proj", ONE_FAILS, """
        command: python train.py
        code: src
        distribution: {type: pytorch, process_count_per_instance: 2}
        """)
    started = time.monotonic()
    final = eng.wait(eng.submit(load_job(path)).name, timeout=60)
    assert final.status == "Failed" and time.monotonic() - started < 30  # not after rank 0's 120 s
    assert final.error == "rank 1 of the script exited with code 3: rank 1 gives up: no data shard"
    assert final.exit_code == 3


def test_mpi_distribution_runs_the_script_under_mpirun_with_a_log_per_rank(eng: Engine, tmp_path: Path) -> None:
    assert shutil.which("mpirun"), "OpenMPI's mpirun is missing: ./test.sh installs it (Debian openmpi-bin)"
    path = write_job(tmp_path / "proj", """
        import os
        rank, size = os.environ["OMPI_COMM_WORLD_RANK"], os.environ["OMPI_COMM_WORLD_SIZE"]
        print(f"mpi rank {rank} of {size}; master {os.environ['AZ_BATCH_MASTER_NODE']}", flush=True)
        """, """
        command: python train.py
        code: src
        distribution: {type: mpi, process_count_per_instance: 3}
        """)
    final = eng.wait(eng.submit(load_job(path)).name, timeout=60)
    by_file = logs(final)
    assert final.status == "Completed", (final.error, by_file)
    assert list(by_file) == ["70_driver_log_0.txt", "70_driver_log_1.txt", "70_driver_log_2.txt"]
    for rank, text in enumerate(by_file.values()):
        (line,) = [ln for ln in text.splitlines() if ln.startswith("mpi rank")]
        assert re.fullmatch(rf"mpi rank {rank} of 3; master 127\.0\.0\.1:\d+", line), line


def test_sdk_pytorch_and_mpi_configurations_become_distributed_runs(eng: Engine, tmp_path: Path) -> None:
    from engine.errors import InvalidSpec
    from engine.sdk import Experiment, ScriptRunConfig, Workspace
    from engine.sdk.runconfig import PyTorchConfiguration

    code = write_job(tmp_path / "proj", SHOW_RANK, "command: x\n").parent / "src"
    exp = Experiment(Workspace(engine=eng), "sdk-dist")
    run = exp.submit(ScriptRunConfig(source_directory=str(code), script="train.py",
                                     distributed_job_config=PyTorchConfiguration(process_count=4, node_count=2)))
    run.wait_for_completion()
    final = eng.get_run(run.id)
    assert final.status == "Completed" and len(logs(final)) == 4
    assert final.properties["distribution"] == {"kind": "pytorch", "process_count_per_instance": 2,
                                                 "instance_count": 2}
    with pytest.raises(InvalidSpec, match="must divide evenly among the nodes"):
        exp.submit(ScriptRunConfig(source_directory=str(code), script="train.py",
                                   distributed_job_config=PyTorchConfiguration(process_count=3, node_count=2)))


@pytest.mark.parametrize(("body", "line", "message"), [
    ("command: python train.py\ncode: src\nresources:\n  instance_count: 2\n", 4,
     "`resources.instance_count: 2` needs a `distribution:`"),
    ("command: python train.py\ncode: src\ndistribution:\n  type: tensorflow\n  worker_count: 0\n", 5,
     "`worker_count` must be 1 or more, not 0"),
    ("command: python train.py\ncode: src\ndistribution:\n  type: pytorch\n  parameter_server_count: 1\n", 5,
     "`parameter_server_count` is for `type: tensorflow`, not `type: pytorch`"),
    ("command: python train.py\ncode: src\ndistribution:\n  type: pytorch\n  process_count_per_instance: 0\n", 5,
     "`process_count_per_instance` must be 1 or more, not 0"),
])
def test_bad_distribution_requests_name_the_file_and_line(
        body: str, line: int, message: str, tmp_path: Path, cli: Any) -> None:
    path = write_job(tmp_path / "proj", SHOW_RANK, body)
    res = cli("job", "create", "-f", str(path))
    assert res.returncode != 0 and f"{path}:{line}: {message}" in res.stderr, res.stderr


def test_a_distributed_run_in_a_container_is_refused_before_anything_is_recorded(
        eng: Engine, tmp_path: Path, cli: Any) -> None:
    path = write_job(tmp_path / "proj", SHOW_RANK, """
        command: python train.py
        code: src
        compute: docker
        environment: {image: python:3.11-slim}
        distribution: {type: pytorch, process_count_per_instance: 2}
        """)
    res = cli("job", "create", "-f", str(path), "-o", "json")
    assert res.returncode != 0
    assert "a distributed run starts its processes on this machine" in res.stderr
    assert json.loads(cli("job", "list", "-o", "json").stdout) == []


RANK_TREE = """
import os, signal, subprocess, sys, time
marker = sys.argv[1]
rank = os.environ.get("RANK") or os.environ["OMPI_COMM_WORLD_RANK"]
if rank == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # this rank only dies by SIGKILL
nap = [sys.executable, "-c", "import time; time.sleep(300)", marker]
subprocess.Popen([*nap, "child-of", rank])
# A daemon: started by a shell in a session of its own that exits at once, so it is out of the rank's
# process group and no longer its descendant (the classic double fork).
subprocess.run(["sh", "-c", f"{nap[0]} -c 'import time; time.sleep(300)' {marker} daemon-of {rank} &"],
               start_new_session=True, check=True)
print(f"rank {rank} ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _alive_with(marker: str) -> list[psutil.Process]:
    alive = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(p.info["cmdline"] or []):
            alive.append(p)
    return alive


@pytest.mark.parametrize("kind", ["pytorch", "mpi"])
def test_cancelling_a_distributed_run_ends_every_ranks_process_tree(eng: Engine, tmp_path: Path, kind: str) -> None:
    marker = f"marker-{uuid.uuid4().hex[:10]}"
    path = write_job(tmp_path / "proj", RANK_TREE, f"""
        command: python train.py {marker}
        code: src
        distribution: {{type: {kind}, process_count_per_instance: 3}}
        """)
    name = eng.submit(load_job(path)).name
    deadline = time.monotonic() + 60
    while True:  # every rank has started its children
        text = "".join(logs(eng.get_run(name)).values()) if eng.get_run(name).run_dir else ""
        if all(f"rank {r} ready" in text for r in range(3)):
            break
        assert time.monotonic() < deadline, (eng.get_run(name).status, text)
        time.sleep(0.05)
    # Each rank's child and its daemon (+ the ranks themselves, and mpirun for mpi).
    while len(naps := [p for p in _alive_with(marker) if "time.sleep(300)" in " ".join(p.info["cmdline"])]) < 6:
        assert time.monotonic() < deadline, [p.info["cmdline"] for p in naps]
        time.sleep(0.05)
    assert len(naps) == 6
    eng.cancel(name)
    final = eng.wait(name, timeout=60)
    assert final.status == "Canceled", final.error
    deadline = time.monotonic() + 10
    while (left := _alive_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in left:  # a failing test leaves nothing behind either
        p.kill()
    assert left == [], [p.info["cmdline"] for p in left]
