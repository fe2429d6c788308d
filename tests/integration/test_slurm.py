"""Jobs on a `type: slurm` compute target, against a real Slurm (slurmctld + slurmd + munged on
this machine, started by the `slurm` fixture), through the real `trainyard` CLI: each run is one
`sbatch` of the script Trainyard writes, its status is what squeue/scontrol say, cancel is scancel,
Slurm enforces the time limit, srun starts a distributed run's ranks, a sweep's trials are Slurm
jobs of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.runtime.stderrmarks import StderrMarks

TIMEOUT = 240  # a cold, loaded 2-core machine


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def ok(*args: str, cwd: Path | None = None, timeout: float = 300) -> str:
    res = cli(*args, cwd=cwd, timeout=timeout)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res.stdout


def show(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ok("job", "show", "-n", name, "-o", "json"))
    return doc


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def slurm_job_state(job_id: str) -> str:
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=False
    ).stdout
    fields = dict(w.split("=", 1) for w in out.split() if "=" in w)
    return fields.get("JobState", "")


@pytest.fixture
def ws(tmp_path: Path, slurm: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace with a Slurm target `cluster` (this machine is the login node) and `cluster-x`
    (the same, each job taking the whole node: --exclusive)."""
    ws = tmp_path / "ws"
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(ws))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    monkeypatch.setenv("TRAINYARD_SLURM_POLL_SECONDS", "0.5")
    ok("init", str(ws))
    for name, extra in (("cluster", ""), ("cluster-x", 'sbatch: ["--exclusive"]\n')):
        spec = tmp_path / f"{name}.yml"
        spec.write_text(
            f"name: {name}\ntype: slurm\nlocal: true\npartition: {slurm['SLURM_PARTITION']}\n"
            f'time_limit: "10"\n{extra}'
        )
        ok("compute", "create", "-f", str(spec))
    yield ws
    for run in json.loads(ok("job", "list", "-o", "json")):
        if run["status"] not in ("Completed", "Failed", "Canceled"):
            cli("job", "cancel", "-n", run["name"])


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def submit(job: Path, *sets: str) -> str:
    args = ["job", "create", "-f", str(job), "-o", "json"]
    for s in sets:
        args += ["--set", s]
    return str(json.loads(ok(*args))["name"])


TRAIN = """\
import os, sys, time
print("first line", flush=True)
from azureml.core import Run
run = Run.get_context()
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
gate = sys.argv[1] if len(sys.argv) > 1 else ""
while gate and not os.path.exists(gate):
    time.sleep(0.2)
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights")
print("job", os.environ["SLURM_JOB_ID"], "done", flush=True)
"""


def test_job_runs_as_one_sbatch_with_metrics_streamed_and_outputs_back(ws: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    proj = project(
        tmp_path,
        {
            "train.py": TRAIN,
            "job.yml": f"""\
        command: python train.py {gate}
        code: .
        compute: azureml:cluster
        """,
        },
    )
    name = submit(proj / "job.yml")
    # The metrics arrive while the Slurm job still runs (it waits for the gate).
    running = wait_for(
        "the loss while the job runs",
        lambda: (d := show(name))["metrics"].get("loss") == 1 / 3 and d["status"] == "Running" and d,
    )
    job_id = running["properties"]["slurm_job_id"]
    assert slurm_job_state(job_id) == "RUNNING"
    gate.touch()
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
    doc = show(name)
    assert doc["status"] == "Completed", doc["error"]
    assert slurm_job_state(job_id) == "COMPLETED"
    run_dir = Path(doc["run_dir"])
    script = (run_dir / "azureml-logs" / "slurm_job.sh").read_text()
    assert "#SBATCH --partition=debug" in script and "#SBATCH --time=10" in script
    log = (run_dir / "azureml-logs" / "70_driver_log.txt").read_text()
    assert "first line" in log and f"job {job_id} done" in log
    history = json.loads(ok("job", "metrics", "-n", name, "--metric", "loss", "-o", "json"))
    assert [round(p["value"], 3) for p in history] == [1.0, 0.5, 0.333]
    assert (run_dir / "outputs" / "model.txt").read_text() == "weights"
    statuses = [s["status"] for s in doc["status_history"]]
    assert statuses.index("Queued") < statuses.index("Running") < statuses.index("Completed")


def test_job_waits_pending_while_another_holds_the_node_and_says_why(ws: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    proj = project(
        tmp_path,
        {
            "train.py": TRAIN,
            "job.yml": f"""\
        command: python train.py {gate}
        code: .
        compute: azureml:cluster-x
        """,
        },
    )
    holder = submit(proj / "job.yml")
    wait_for("the first job to run", lambda: show(holder)["status"] == "Running")
    waiting = submit(proj / "job.yml")
    doc = wait_for(
        "the second job to wait in Slurm's queue",
        lambda: (
            (d := show(waiting))["properties"].get("slurm_state") == "PENDING"
            and "Resources" in (d["properties"].get("slurm_reason") or "")
            and d
        ),
    )
    assert doc["status"] == "Queued"
    assert slurm_job_state(doc["properties"]["slurm_job_id"]) == "PENDING"
    human = ok("job", "show", "-n", waiting)
    assert "waiting because:  Resources (waiting for resources" in human
    log = (Path(doc["run_dir"]) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert "is PENDING: Resources" in log
    # The compute page's data: the partition, the node taken, the user's queue with the reason.
    cluster = json.loads(ok("compute", "show", "-n", "cluster-x", "-o", "json"))["cluster"]
    assert cluster["error"] is None and [p["partition"] for p in cluster["partitions"]] == ["debug*"]
    assert set(cluster["node_states"]) <= {"allocated", "mixed"}
    queue = {j["job_id"]: j for j in cluster["queue"]}
    assert queue[doc["properties"]["slurm_job_id"]]["state"] == "PENDING"
    assert queue[doc["properties"]["slurm_job_id"]]["reason"] == "Resources"
    gate.touch()  # the first job ends: the second gets the node
    for name in (holder, waiting):
        assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
        assert show(name)["status"] == "Completed"


def test_cancel_is_scancel_of_the_job(ws: Path, tmp_path: Path) -> None:
    proj = project(
        tmp_path,
        {
            "train.py": TRAIN,
            "job.yml": f"""\
        command: python train.py {tmp_path / "never"}
        code: .
        compute: azureml:cluster
        """,
        },
    )
    name = submit(proj / "job.yml")
    doc = wait_for("the job to run", lambda: (d := show(name))["status"] == "Running" and d)
    job_id = doc["properties"]["slurm_job_id"]
    ok("job", "cancel", "-n", name)
    done = wait_for(
        "the run to end", lambda: (d := show(name))["status"] in ("Canceled", "Failed", "Completed") and d
    )
    assert done["status"] == "Canceled", done["error"]
    assert slurm_job_state(job_id) == "CANCELLED"
    assert subprocess.run(["pgrep", "-f", str(tmp_path / "never")], check=False).returncode == 1


def test_time_limit_ends_the_job_as_timeout(ws: Path, tmp_path: Path) -> None:
    proj = project(
        tmp_path,
        {
            "train.py": TRAIN,
            "job.yml": f"""\
        command: python train.py {tmp_path / "never"}
        code: .
        compute: azureml:cluster
        limits:
          timeout: 20
        """,
        },
    )
    name = submit(proj / "job.yml")
    doc = wait_for("the job to run", lambda: (d := show(name))["status"] == "Running" and d)
    script = (Path(doc["run_dir"]) / "azureml-logs" / "slurm_job.sh").read_text()
    assert "#SBATCH --time=0:00:20" in script  # the job's limit wins over the target's default
    # Slurm rounds it up to a minute and checks limits every ~30 s.
    done = wait_for(
        "Slurm to end the job",
        lambda: (d := show(name))["status"] in ("Failed", "Completed", "Canceled") and d,
        300,
    )
    assert done["status"] == "Failed"
    assert "TIMEOUT" in done["error"] and "time limit" in done["error"], done["error"]
    assert slurm_job_state(done["properties"]["slurm_job_id"]) == "TIMEOUT"


DDP = """\
import os
import torch
import torch.distributed as dist
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
print(f"rank {rank}/{world} slurm task {os.environ['SLURM_PROCID']} master {os.environ['MASTER_ADDR']}"
      f" sum {t.item()}", flush=True)
if rank == 0:
    from azureml.core import Run
    Run.get_context().log("sum", t.item())
dist.destroy_process_group()
"""


def test_two_task_ddp_through_srun(ws: Path, tmp_path: Path) -> None:
    proj = project(
        tmp_path,
        {
            "ddp.py": DDP,
            "job.yml": f"""\
        command: python ddp.py
        code: .
        compute: azureml:cluster
        environment:
          python: {{interpreter_path: {sys.executable}}}
        distribution:
          type: pytorch
          process_count_per_instance: 2
        resources:
          instance_count: 1
        """,
        },
    )
    name = submit(proj / "job.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0, show(name)["error"]
    doc = show(name)
    assert doc["status"] == "Completed" and doc["metrics"]["sum"] == 3.0
    logs = Path(doc["run_dir"]) / "azureml-logs"
    script = (logs / "slurm_job.sh").read_text()
    assert "#SBATCH --ntasks-per-node=2" in script and "srun " in script
    for rank in (0, 1):
        text = (logs / f"70_driver_log_{rank}.txt").read_text()
        assert f"rank {rank}/2 slurm task {rank} master " in text and "sum 3.0" in text, text


MPI = """\
import ctypes, sys
# OpenMPI's C library through ctypes (no mpi4py, no compiler): a real MPI_Init and MPI_Allreduce,
# which work only when srun's PMI server wires the ranks together.
mpi = ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL)
def handle(name):  # MPI_COMM_WORLD, MPI_INT, MPI_SUM are addresses of OpenMPI's globals
    return ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(mpi, name)))
assert mpi.MPI_Init(None, None) == 0
world = handle("ompi_mpi_comm_world")
rank, size, total = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
mpi.MPI_Comm_rank(world, ctypes.byref(rank))
mpi.MPI_Comm_size(world, ctypes.byref(size))
mine = ctypes.c_int(rank.value + 1)
mpi.MPI_Allreduce(ctypes.byref(mine), ctypes.byref(total), 1, handle("ompi_mpi_int"), handle("ompi_mpi_op_sum"), world)
print(f"mpi rank {rank.value} of {size.value}: allreduce sum {total.value}", flush=True)
print(f"rank {rank.value} to stderr", file=sys.stderr)
mpi.MPI_Finalize()
"""


def test_an_mpi_job_s_ranks_are_wired_by_srun_s_pmix(ws: Path, tmp_path: Path) -> None:
    proj = project(
        tmp_path,
        {
            "allreduce.py": MPI,
            "job.yml": f"""\
        command: python allreduce.py
        code: .
        compute: azureml:cluster
        environment:
          python: {{interpreter_path: {sys.executable}}}
        distribution:
          type: mpi
          process_count_per_instance: 2
        """,
        },
    )
    name = submit(proj / "job.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0, show(name)["error"]
    doc = show(name)
    assert doc["status"] == "Completed", doc["error"]
    logs = Path(doc["run_dir"]) / "azureml-logs"
    assert "srun --kill-on-bad-exit=1 --export=ALL --mpi=pmix " in (logs / "slurm_job.sh").read_text()
    for rank in (0, 1):  # one world of two (singletons would each say "of 1: allreduce sum 1")
        text = (logs / f"70_driver_log_{rank}.txt").read_text()
        assert f"mpi rank {rank} of 2: allreduce sum 3" in text, text
        # each rank's stderr is marked on the cluster and the marks come back with its log
        marks = StderrMarks(logs / f"70_driver_log_{rank}.txt")
        marks.refresh()
        assert marks.covers(text.encode().index(f"rank {rank} to stderr".encode()))
        assert not marks.covers(text.encode().index(b"mpi rank"))


def test_sweep_trials_are_slurm_jobs(ws: Path, tmp_path: Path) -> None:
    proj = project(
        tmp_path,
        {
            "score.py": """\
        import sys
        from azureml.core import Run
        Run.get_context().log("score", float(sys.argv[1]))
        """,
            "sweep.yml": """\
        type: sweep
        trial:
          command: python score.py ${{search_space.x}}
          code: .
          compute: azureml:cluster
        search_space:
          x: {type: choice, values: [1, 2]}
        sampling_algorithm: grid
        objective: {goal: maximize, primary_metric: score}
        limits: {max_total_trials: 2, max_concurrent_trials: 2}
        """,
        },
    )
    name = submit(proj / "sweep.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
    trials = json.loads(ok("job", "list", "--parent-job-name", name, "-o", "json"))
    assert sorted(t["status"] for t in trials) == ["Completed", "Completed"]
    job_ids = {show(t["name"])["properties"]["slurm_job_id"] for t in trials}
    assert len(job_ids) == 2 and all(slurm_job_state(j) == "COMPLETED" for j in job_ids)
    assert "best trial:" in ok("job", "show", "-n", name)


def test_login_node_over_ssh(
    ws: Path, tmp_path: Path, slurm: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login node reached over SSH (a real sshd on loopback whose sessions see the cluster's
    SLURM_CONF, as a login node's do): the code goes through the SSH content store into work_dir,
    sbatch/squeue run there, the log and metrics come back by offset, the outputs too."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "runs"))
    from sshd import start_sshd

    home = tmp_path / "home"  # the supervisor reads ~/.ssh: give it an empty one
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    server = start_sshd(tmp_path / "sshd", extra_config=f"SetEnv SLURM_CONF={slurm['SLURM_CONF']}\n")
    try:
        shared = tmp_path / "shared"
        spec = tmp_path / "login.yml"
        spec.write_text(
            f"name: login\ntype: slurm\nhost: 127.0.0.1\nport: {server.port}\nuser: {server.user}\n"
            f"key_file: {server.key}\nknown_hosts: {server.known_hosts}\npartition: debug\n"
            f"work_dir: {shared}\n"
        )
        ok("compute", "create", "-f", str(spec))
        gate = tmp_path / "gate"
        gate.touch()
        proj = project(
            tmp_path,
            {
                "train.py": TRAIN,
                "job.yml": f"""\
            command: python3 train.py {gate}
            code: .
            compute: azureml:login
            """,
            },
        )
        name = submit(proj / "job.yml")
        assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0, show(name)["error"]
        doc = show(name)
        assert doc["status"] == "Completed" and doc["metrics"]["loss"] == 1 / 3
        assert doc["properties"]["remote_dir"] == f"{shared}/{name}"
        assert slurm_job_state(doc["properties"]["slurm_job_id"]) == "COMPLETED"
        run_dir = Path(doc["run_dir"])
        assert f"--chdir={shared}/{name}/wd" in (run_dir / "azureml-logs" / "slurm_job.sh").read_text()
        assert "first line" in (run_dir / "azureml-logs" / "70_driver_log.txt").read_text()
        assert (run_dir / "outputs" / "model.txt").read_text() == "weights"
        assert not (shared / name).exists()  # removed once the outputs came back
    finally:
        server.stop()


def test_a_killed_supervisor_is_replaced_and_follows_the_slurm_job(ws: Path, tmp_path: Path) -> None:
    """kill -9 the run's supervisor while its Slurm job runs; opening the workspace again (what
    starting Trainyard does) starts a new one that follows the same job: no metric lost or doubled."""
    import signal

    from engine.api import Engine

    gate = tmp_path / "gate"
    proj = project(
        tmp_path,
        {
            "train.py": TRAIN,
            "job.yml": f"""\
        command: python train.py {gate}
        code: .
        compute: azureml:cluster
        """,
        },
    )
    name = submit(proj / "job.yml")
    running = wait_for(
        "the loss while the job runs",
        lambda: (d := show(name))["metrics"].get("loss") == 1 / 3 and d["status"] == "Running" and d,
    )
    job_id = running["properties"]["slurm_job_id"]
    eng = Engine.open(ws)
    try:
        first = eng.get_run(name).supervisor_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(
            "the supervisor to die",
            lambda: (
                subprocess.run(["kill", "-0", str(first)], capture_output=True, check=False).returncode != 0
                or None
            ),
        )
    finally:
        eng.close()
    assert slurm_job_state(job_id) == "RUNNING"  # Slurm's job goes on without it
    again = Engine.open(ws)  # reconcile starts a new supervisor
    try:
        wait_for("a new supervisor", lambda: again.get_run(name).supervisor_pid not in (None, first))
    finally:
        again.close()
    gate.touch()
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0, show(name)["error"]
    doc = show(name)
    assert doc["status"] == "Completed" and slurm_job_state(job_id) == "COMPLETED"
    history = json.loads(ok("job", "metrics", "-n", name, "--metric", "loss", "-o", "json"))
    assert [round(p["value"], 3) for p in history] == [1.0, 0.5, 0.333]
    log = (Path(doc["run_dir"]) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert log.count("first line") == 1 and f"job {job_id} done" in log
    assert f"reattached to Slurm job {job_id}" in log
    assert (Path(doc["run_dir"]) / "outputs" / "model.txt").read_text() == "weights"


def test_pipeline_steps_are_slurm_jobs_passing_data(ws: Path, tmp_path: Path) -> None:
    """A pipeline whose default compute is the cluster: each step is a Slurm job of its own, the
    second reading the folder the first wrote (its output, collected from the cluster's work dir)."""
    proj = project(
        tmp_path,
        {
            "prep.py": """\
        import os, sys
        os.makedirs(sys.argv[1], exist_ok=True)
        open(os.path.join(sys.argv[1], "rows.csv"), "w").write("x\\n1\\n2\\n3\\n")
        print("prep in job", os.environ["SLURM_JOB_ID"], flush=True)
        """,
            "count.py": """\
        import os, sys
        from azureml.core import Run
        rows = open(os.path.join(sys.argv[1], "rows.csv")).read().split()[1:]
        Run.get_context().log("rows", len(rows))
        print("count in job", os.environ["SLURM_JOB_ID"], flush=True)
        """,
            "pipeline.yml": """\
        type: pipeline
        settings: {default_compute: azureml:cluster}
        jobs:
          prep:
            type: command
            code: .
            command: python prep.py ${{outputs.table}}
            outputs: {table: {type: uri_folder}}
          count:
            type: command
            code: .
            command: python count.py ${{inputs.table}}
            inputs: {table: "${{parent.jobs.prep.outputs.table}}"}
        """,
        },
    )
    name = submit(proj / "pipeline.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
    assert show(name)["status"] == "Completed"
    steps = {s["display_name"]: s for s in json.loads(ok("job", "list", "--parent-job-name", name, "-o", "json"))}
    assert sorted(steps) == ["count", "prep"] and all(s["status"] == "Completed" for s in steps.values())
    job_ids = {step: show(s["name"])["properties"]["slurm_job_id"] for step, s in steps.items()}
    assert len(set(job_ids.values())) == 2 and all(slurm_job_state(j) == "COMPLETED" for j in job_ids.values())
    count = steps["count"]["name"]
    points = json.loads(ok("job", "metrics", "-n", count, "--metric", "rows", "-o", "json"))
    assert [p["value"] for p in points] == [3]  # the rows prep wrote, read by the next Slurm job
    assert f"count in job {job_ids['count']}" in ok("job", "stream", "-n", count)


BUSY = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time\\nend = time.time() + 3\\nwhile time.time() < end: pass"])
x = bytearray(80 * 1024 * 1024)
end = time.time() + 4
while time.time() < end:
    pass
child.wait()
"""


def test_system_metrics_are_sampled_in_the_job_and_come_back(ws: Path, tmp_path: Path) -> None:
    """The batch script starts the stdlib sampler beside the script (on the node, from /proc);
    its lines come back with the driver log and are stored once each, at the sampler's steps."""
    proj = project(
        tmp_path,
        {
            "busy.py": BUSY,
            "job.yml": """\
        command: python busy.py
        code: .
        compute: azureml:cluster
        environment_variables:
          TRAINYARD_SYSTEM_METRICS_INTERVAL: "0.5"
        """,
        },
    )
    name = submit(proj / "job.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
    doc = show(name)
    assert doc["status"] == "Completed", doc["error"]
    pulled = (Path(doc["run_dir"]) / "system-metrics.jsonl").read_bytes().splitlines()
    cpu = json.loads(ok("job", "metrics", "-n", name, "--metric", "system/cpu_percent", "-o", "json"))
    assert [p["step"] for p in cpu] == list(range(len(pulled))) and len(pulled) >= 4
    assert max(p["value"] for p in cpu) > 5
    rss = json.loads(ok("job", "metrics", "-n", name, "--metric", "system/memory_rss_mib", "-o", "json"))
    assert max(p["value"] for p in rss) > 80


BUSY_TASK = """\
import time
x = bytearray(60 * 1024 * 1024)
end = time.time() + 4
while time.time() < end:
    pass
"""


def test_a_distributed_job_s_node_is_sampled_with_all_its_tasks(ws: Path, tmp_path: Path) -> None:
    """srun's tasks are slurmstepd's children, not the batch script's: task 0 of the node samples
    its own tree and the node's other tasks' (from the pids they write as they start)."""
    proj = project(
        tmp_path,
        {
            "busy.py": BUSY_TASK,
            "job.yml": f"""\
        command: python busy.py
        code: .
        compute: azureml:cluster
        environment:
          python: {{interpreter_path: {sys.executable}}}
        environment_variables:
          TRAINYARD_SYSTEM_METRICS_INTERVAL: "0.5"
        distribution:
          type: pytorch
          process_count_per_instance: 2
        resources:
          instance_count: 1
        """,
        },
    )
    name = submit(proj / "job.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
    doc = show(name)
    assert doc["status"] == "Completed", doc["error"]
    pulled = (Path(doc["run_dir"]) / "system-metrics-node0.jsonl").read_bytes().splitlines()
    # One node: named as a one-process run's samples are.
    rss = json.loads(ok("job", "metrics", "-n", name, "--metric", "system/memory_rss_mib", "-o", "json"))
    assert [p["step"] for p in rss] == list(range(len(pulled))) and len(pulled) >= 3
    assert max(p["value"] for p in rss) > 2 * 60  # both tasks
    cpu = json.loads(ok("job", "metrics", "-n", name, "--metric", "system/cpu_percent", "-o", "json"))
    assert max(p["value"] for p in cpu) > 5


def test_ro_mount_input_is_read_only_in_the_slurm_job(ws: Path, tmp_path: Path) -> None:
    """A job's `ro_mount` folder input on the cluster: the batch script mounts it read-only in a
    namespace of its own on the node, so the script (root here, as the job's user) cannot change
    it, by writing or by a hard link; the user's folder is unchanged."""
    proj = project(
        tmp_path,
        {
            "data/rows.csv": "x\n1\n",
            "try.py": """\
        import os, sys
        d = sys.argv[1]
        def attempt(what, fn):
            try:
                fn()
                print(what, "SUCCEEDED", flush=True)
            except OSError as e:
                print(what, "FAILED", e.errno, flush=True)
        attempt("append", lambda: open(os.path.join(d, "rows.csv"), "a").write("evil"))
        attempt("create", lambda: open(os.path.join(d, "new.csv"), "w").write("x"))
        attempt("link", lambda: os.link(os.path.join(d, "rows.csv"), "linked.csv"))
        print("uid", os.geteuid(), flush=True)
        """,
            "job.yml": """\
        command: python try.py ${{inputs.data}}
        code: .
        compute: azureml:cluster
        inputs:
          data: {type: uri_folder, path: ./data}
        """,
        },
    )
    name = submit(proj / "job.yml")
    assert cli("job", "stream", "-n", name, timeout=TIMEOUT).returncode == 0
    assert show(name)["status"] == "Completed"
    log = ok("job", "stream", "-n", name)
    assert "append FAILED 30" in log and "create FAILED 30" in log and "link FAILED 18" in log, log
    assert "SUCCEEDED" not in log and "permission bits only" not in log, log
    assert (proj / "data" / "rows.csv").read_text() == "x\n1\n"
    script = (Path(show(name)["run_dir"]) / "azureml-logs" / "slurm_job.sh").read_text()
    assert "mount -o remount,ro,bind" in script
