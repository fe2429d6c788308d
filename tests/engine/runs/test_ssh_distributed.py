"""Distributed runs over SSH (engine.compute.ssh.group), against the real throwaway sshd of
tests/engine/runs/sshd.py: a target with two hosts (both this sshd: the test machine has one),
one node per host, a real 2-node gloo all-reduce with the torch of Trainyard's own venv (the
"hosts" are this machine, so its interpreter is there)."""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import test_ssh_compute

from engine.api import Engine
from engine.errors import LaunchFailed
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.runtime.distribution import make_distribution

# The SSH fixtures (a throwaway sshd, a target registered on it), shared with test_ssh_compute.
sshd = test_ssh_compute.sshd
target = test_ssh_compute.target

ALLREDUCE = """
import os, torch, torch.distributed as dist
from azureml.core import Run
dist.init_process_group("gloo")
rank = dist.get_rank()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
print("rank", rank, "of", dist.get_world_size(), "node", os.environ["NODE_RANK"], "local",
      os.environ["LOCAL_RANK"], "master", os.environ["MASTER_ADDR"], "sum", t.item(), flush=True)
Run.get_context().log(f"sum_{rank}", t.item())
dist.destroy_process_group()
"""

FAIL_ONE = """
import os, sys, time
if os.environ["RANK"] == "1":
    time.sleep(1)
    print("rank 1 gives up", flush=True)
    sys.exit(3)
print("rank 0 waits", flush=True)
time.sleep(300)
"""


def test_a_two_node_gloo_all_reduce_runs_one_node_per_host(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target(hosts=["127.0.0.1", "127.0.0.1"])
    code = project({"ar.py": ALLREDUCE})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="ar.py", compute="far",
                             interpreter_path=sys.executable,
                             distribution=make_distribution("pytorch", 1, 2)))
    final = eng.wait(run.name, timeout=180)
    files = RunFiles(Path(final.run_dir))
    logs = {r: (files.system_logs / f"70_driver_log_{r}.txt") for r in (0, 1)}
    assert final.status == "Completed", (final.error, {r: p.read_text() for r, p in logs.items() if p.exists()})
    for rank in (0, 1):
        text = logs[rank].read_text()
        assert f"rank {rank} of 2 node {rank} local 0 master 127.0.0.1 sum 3.0" in text
        assert eng.metric_history(run.name, f"sum_{rank}").values.tolist() == [3.0]


# Each process burns a core and holds 60 MiB (touched, so resident) for a few seconds.
BUSY = """
import time
x = bytearray(60 * 1024 * 1024)
end = time.time() + 4
while time.time() < end:
    pass
"""


def test_each_node_s_host_is_sampled_with_all_its_processes(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    """Two nodes of two processes: the first process of each node samples its host, its own tree
    and its node's other process (not its child); the samples are named by node."""
    target(hosts=["127.0.0.1", "127.0.0.1"])
    code = project({"busy.py": BUSY})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="busy.py", compute="far",
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"},
                             distribution=make_distribution("pytorch", 2, 2)))
    final = eng.wait(run.name, timeout=180)
    assert final.status == "Completed", final.error
    root = RunFiles(Path(final.run_dir)).root
    for node in (0, 1):
        pulled = (root / f"system-metrics-node{node}.jsonl").read_bytes().splitlines()
        rss = eng.metric_history(run.name, f"system/node{node}/memory_rss_mib")
        assert rss.steps.tolist() == list(range(len(pulled))) and len(pulled) >= 3
        assert rss.values.max() > 2 * 60  # both processes of the node
        assert eng.metric_history(run.name, f"system/node{node}/cpu_percent").values.max() > 5
    assert len(eng.metric_history(run.name, "system/cpu_percent").values) == 0  # by node only


def _marked(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]


def test_the_first_failing_process_ends_the_others(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target(hosts=["127.0.0.1", "127.0.0.1"])
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    code = project({"f.py": FAIL_ONE})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="f.py", arguments=(marker,),
                             compute="far", distribution=make_distribution("pytorch", 1, 2)))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Failed"
    assert final.exit_code == 3
    assert final.error is not None and "exited with code 3: rank 1 gives up" in final.error
    deadline = time.monotonic() + 10
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked(marker) == []  # rank 0's remote process group was ended


def test_more_nodes_than_hosts_is_refused_at_submit(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target()
    code = project({"f.py": "print(1)\n"})
    with pytest.raises(LaunchFailed, match="with 1 host\\(s\\); the job asks for `instance_count: 2`"):
        eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="f.py", compute="far",
                           distribution=make_distribution("pytorch", 1, 2)))
    assert eng.list_runs() == []


ARGS = "import sys\nprint('argv', sys.argv[1:], flush=True)\n"


def test_a_scripts_dollar_arguments_are_expanded_per_process_on_its_host(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    import os
    import pwd

    target(hosts=["127.0.0.1", "127.0.0.1"])
    code = project({"args.py": ARGS})
    args = ("--rank", "$RANK", "--node=${NODE_RANK}", "$HOME", "$NO_SUCH_VARIABLE", "plain")
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="args.py", arguments=args,
                             compute="far", distribution=make_distribution("pytorch", 1, 2)))
    final = eng.wait(run.name, timeout=120)
    files = RunFiles(Path(final.run_dir))
    assert final.status == "Completed", final.error
    # $HOME is the host's (the sshd session's), not this test's (a temporary folder).
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert os.environ["HOME"] != home
    for rank in (0, 1):
        text = (files.system_logs / f"70_driver_log_{rank}.txt").read_text()
        want = ["--rank", str(rank), f"--node={rank}", home, "$NO_SUCH_VARIABLE", "plain"]
        assert f"argv {want!r}" in text, text


# Each TensorFlow task listens at its own address of TF_CONFIG and greets every other task there:
# the cluster spec is only right if every address is reachable and each port its own task's.
TF_TASK = """
import json, os, socket, time
cfg = json.loads(os.environ["TF_CONFIG"])
me = cfg["task"]["type"] + ":" + str(cfg["task"]["index"])
tasks = {f"{kind}:{i}": addr for kind, addrs in cfg["cluster"].items() for i, addr in enumerate(addrs)}
host, port = tasks[me].rsplit(":", 1)
server = socket.create_server((host, int(port)))
server.settimeout(60)
heard = []
for other, addr in sorted(tasks.items()):
    if other == me:
        continue
    h, p = addr.rsplit(":", 1)
    deadline = time.time() + 60
    while True:
        try:
            with socket.create_connection((h, int(p)), timeout=5) as c:
                c.sendall(me.encode())
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
for _ in range(len(tasks) - 1):
    conn, _addr = server.accept()
    heard.append(conn.recv(64).decode())
    conn.close()
print("task", me, "at", tasks[me], "heard", sorted(heard), flush=True)
"""


def test_a_tensorflow_run_gets_a_cluster_of_its_hosts_and_free_ports(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target(hosts=["127.0.0.1", "127.0.0.1"])
    code = project({"tf_task.py": TF_TASK})
    dist = make_distribution("tensorflow", None, 2, worker_count=2, parameter_server_count=1)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="tf_task.py", compute="far",
                             distribution=dist))
    final = eng.wait(run.name, timeout=180)
    files = RunFiles(Path(final.run_dir))
    logs = {i: files.system_logs / dist.log_name(i) for i in range(3)}
    texts = {i: p.read_text() if p.exists() else "" for i, p in logs.items()}
    assert final.status == "Completed", (final.error, texts)
    everyone = ["ps:0", "worker:0", "worker:1"]
    for i, me in enumerate(["worker:0", "worker:1", "ps:0"]):
        others = [t for t in everyone if t != me]
        assert re.search(rf"task {me} at 127\.0\.0\.1:\d+ heard {re.escape(repr(others))}", texts[i]), texts[i]
    ports = {re.search(r"at 127\.0\.0\.1:(\d+)", t).group(1) for t in texts.values()}  # type: ignore[union-attr]
    assert len(ports) == 3  # one port of its own per task


MPI_ALLREDUCE = """
import os, sys, torch, torch.distributed as dist
from azureml.core import Run
rank, size = int(os.environ["OMPI_COMM_WORLD_RANK"]), int(os.environ["OMPI_COMM_WORLD_SIZE"])
dist.init_process_group("gloo", rank=rank, world_size=size)
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
print("rank", rank, "of", size, "arg", sys.argv[1], "master", os.environ["MASTER_ADDR"],
      "nodes", os.environ["AZUREML_NODE_COUNT"], "sum", t.item(), flush=True)
Run.get_context().log(f"sum_{rank}", t.item())
dist.destroy_process_group()
"""


def test_an_mpi_job_runs_its_ranks_through_mpirun_on_node_0_s_host(eng: Engine, project, target, sshd) -> None:  # type: ignore[no-untyped-def]
    """Two nodes on two host names of this machine: mpirun on node 0's host starts both ranks
    (through the rank launcher: own log, own `$VAR` arguments) with the folder and interpreter
    that were given to each host at the same path."""
    work = target(hosts=["127.0.0.1", "localhost"])
    known = sshd.known_hosts.read_text()  # the second name's key: the same sshd's
    sshd.known_hosts.write_text(known + known.replace("[127.0.0.1]", "[localhost]"))
    code = project({"ar.py": MPI_ALLREDUCE})
    dist = make_distribution("mpi", 1, 2)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="ar.py",
                             arguments=("r$OMPI_COMM_WORLD_RANK",), compute="far",
                             interpreter_path=sys.executable, distribution=dist))
    final = eng.wait(run.name, timeout=180)
    files = RunFiles(Path(final.run_dir))
    logs = {r: files.system_logs / dist.log_name(r) for r in (0, 1)}
    texts = {r: p.read_text() if p.exists() else "" for r, p in logs.items()}
    assert final.status == "Completed", (final.error, texts)
    for rank in (0, 1):
        assert f"rank {rank} of 2 arg r{rank} master 127.0.0.1 nodes 2 sum 3.0" in texts[rank], texts[rank]
        assert eng.metric_history(run.name, f"sum_{rank}").values.tolist() == [3.0]
    assert "(mpi) started by mpirun on root@127.0.0.1" in files.driver_log.read_text()
    assert not any(work.iterdir())  # the run's folder on the hosts is gone
