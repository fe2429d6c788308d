"""What Azure ML gives each process of a distributed run, as the seeds' scripts use it: `$VAR`
arguments expanded per process (ScriptRunConfig argument lists and YAML commands), the pytorch
DDP example's `--dist-url $AZ_BATCHAI_PYTORCH_INIT_METHOD --rank $AZ_BATCHAI_TASK_INDEX` on gloo,
MpiConfiguration(node_count=2) with a Horovod-style script and a log per rank, and TensorFlow's
TF_CONFIG in every worker and parameter server. Real processes, real torch.distributed, real mpirun."""

from __future__ import annotations

import json
import shutil
import socket
import textwrap
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.runtime.files import RunFiles
from engine.sdk import Experiment, ScriptRunConfig, Workspace
from engine.sdk.runconfig import MpiConfiguration, PyTorchConfiguration
from engine.specs.jobs import load_job

SHOW_ARGS = """
import json, os, sys
print("argv " + json.dumps(sys.argv[1:]), flush=True)
print("env " + json.dumps({k: os.environ.get(k) for k in ("RANK", "MASTER_PORT", "AZ_BATCH_MASTER_NODE",
                                                          "AZUREML_NODE_COUNT")}), flush=True)
"""


def project(folder: Path, script: str, job: str | None = None) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "train.py").write_text(textwrap.dedent(script))
    if job is not None:
        (folder / "job.yml").write_text(textwrap.dedent(job).lstrip())
    return folder


def process_logs(eng: Engine, name: str) -> dict[str, str]:
    folder = RunFiles(Path(eng.get_run(name).run_dir)).system_logs
    return {p.name: p.read_text() for p in sorted(folder.glob("70_driver_log_*.txt"))}


def line(text: str, prefix: str) -> Any:
    (found,) = [ln for ln in text.splitlines() if ln.startswith(prefix + " ")]
    return json.loads(found[len(prefix) + 1 :])


def test_script_arguments_are_expanded_for_each_process(eng: Engine, tmp_path: Path) -> None:
    code = project(tmp_path / "proj", SHOW_ARGS) / "src"
    exp = Experiment(Workspace(engine=eng), "args")
    args = [
        "--dist-url",
        "$AZ_BATCHAI_PYTORCH_INIT_METHOD",
        "--rank",
        "$AZ_BATCHAI_TASK_INDEX",
        "--tag",
        "r${RANK}-of-${WORLD_SIZE}",
        "--unknown",
        "$NOT_A_VARIABLE_HERE",
        "--world-size",
        2,
        "--kept",
        "${{inputs.x}}",
        "--price",
        "$5",
    ]
    run = exp.submit(
        ScriptRunConfig(
            source_directory=str(code),
            script="train.py",
            arguments=args,
            distributed_job_config=PyTorchConfiguration(node_count=2),
        )
    )
    run.wait_for_completion()
    logs = process_logs(eng, run.id)
    assert list(logs) == ["70_driver_log_0.txt", "70_driver_log_1.txt"]
    for rank, text in enumerate(logs.values()):
        argv, env = line(text, "argv"), line(text, "env")
        assert argv == [
            "--dist-url",
            f"tcp://127.0.0.1:{env['MASTER_PORT']}",
            "--rank",
            str(rank),
            "--tag",
            f"r{rank}-of-2",
            "--unknown",
            "$NOT_A_VARIABLE_HERE",
            "--world-size",
            "2",
            "--kept",
            "${{inputs.x}}",
            "--price",
            "$5",
        ]
        assert env["AZ_BATCH_MASTER_NODE"] == f"127.0.0.1:{env['MASTER_PORT']}"
        assert env["AZUREML_NODE_COUNT"] == "2"


def test_a_single_process_script_gets_its_variables_expanded_too(eng: Engine, tmp_path: Path) -> None:
    code = project(tmp_path / "proj", SHOW_ARGS) / "src"
    exp = Experiment(Workspace(engine=eng), "args")
    run = exp.submit(
        ScriptRunConfig(
            source_directory=str(code),
            script="train.py",
            arguments=["--run", "$TRAINYARD_RUN_ID", "--missing", "${MISSING_VAR_X}"],
        )
    )
    run.wait_for_completion()
    text = RunFiles(Path(eng.get_run(run.id).run_dir)).driver_log.read_text()
    assert line(text, "argv") == ["--run", run.id, "--missing", "${MISSING_VAR_X}"]


def test_a_yaml_command_expands_per_process_and_input_values_stay_as_given(
    eng: Engine, tmp_path: Path
) -> None:
    folder = project(
        tmp_path / "proj",
        SHOW_ARGS,
        """
        command: >-
          python train.py --dist-url $AZ_BATCHAI_PYTORCH_INIT_METHOD --rank ${AZ_BATCHAI_TASK_INDEX}
          --note ${{inputs.note}}
        code: src
        inputs:
          note: "costs $RANK dollars"
        distribution: {type: pytorch, process_count_per_instance: 2}
        """,
    )
    final = eng.wait(eng.submit(load_job(folder / "job.yml")).name, timeout=60)
    logs = process_logs(eng, final.name)
    assert final.status == "Completed", (final.error, logs)
    for rank, text in enumerate(logs.values()):
        port = line(text, "env")["MASTER_PORT"]
        # The input's value is rendered before the run, quoted: its `$RANK` is not expanded.
        assert line(text, "argv") == [
            "--dist-url",
            f"tcp://127.0.0.1:{port}",
            "--rank",
            str(rank),
            "--note",
            "costs $RANK dollars",
        ]


DDP_SEED_STYLE = """
import argparse
import torch
import torch.distributed as dist
from azureml.core import Run

p = argparse.ArgumentParser()
p.add_argument("--dist-backend", default="nccl")
p.add_argument("--dist-url")
p.add_argument("--rank", type=int)
p.add_argument("--world-size", type=int)
a = p.parse_args()
backend = a.dist_backend if torch.cuda.is_available() else "gloo"  # this machine has no GPU
dist.init_process_group(backend, init_method=a.dist_url, rank=a.rank, world_size=a.world_size)
t = torch.tensor([float(a.rank + 1)])
dist.all_reduce(t)
Run.get_context().log("sum", t.item())
print(f"rank {a.rank}: sum {t.item():g}", flush=True)
dist.destroy_process_group()
"""


def test_the_seed_ddp_argument_list_runs_two_nodes_over_gloo(eng: Engine, tmp_path: Path) -> None:
    code = project(tmp_path / "proj", DDP_SEED_STYLE) / "src"
    args = [
        "--dist-backend",
        "nccl",
        "--dist-url",
        "$AZ_BATCHAI_PYTORCH_INIT_METHOD",
        "--rank",
        "$AZ_BATCHAI_TASK_INDEX",
        "--world-size",
        2,
    ]
    run = Experiment(Workspace(engine=eng), "ddp").submit(
        ScriptRunConfig(
            source_directory=str(code),
            script="train.py",
            arguments=args,
            distributed_job_config=PyTorchConfiguration(communication_backend="Nccl", node_count=2),
        )
    )
    run.wait_for_completion(raise_on_error=False)
    final = eng.get_run(run.id)
    logs = process_logs(eng, run.id)
    assert final.status == "Completed", (final.error, logs)
    assert "rank 0: sum 3" in logs["70_driver_log_0.txt"] and "rank 1: sum 3" in logs["70_driver_log_1.txt"]
    assert eng.metric_history(run.id, "sum").values.tolist() == [3.0, 3.0]


HOROVOD_STYLE = """
import os, sys
rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
size = int(os.environ["OMPI_COMM_WORLD_SIZE"])
print(f"hvd rank {rank}/{size} args {sys.argv[1:]}", flush=True)
if rank == 1 and "--fail" in sys.argv:
    raise RuntimeError("rank 1 ran out of data")
"""


def test_mpi_configuration_two_nodes_gives_each_rank_its_own_driver_log(eng: Engine, tmp_path: Path) -> None:
    assert shutil.which("mpirun"), "OpenMPI's mpirun is missing: ./test.sh installs it (Debian openmpi-bin)"
    code = project(tmp_path / "proj", HOROVOD_STYLE) / "src"
    exp = Experiment(Workspace(engine=eng), "horovod")
    run = exp.submit(
        ScriptRunConfig(
            source_directory=str(code),
            script="train.py",
            arguments=["--rank", "$OMPI_COMM_WORLD_RANK"],
            distributed_job_config=MpiConfiguration(node_count=2),
        )
    )
    run.wait_for_completion()
    logs = process_logs(eng, run.id)
    assert list(logs) == ["70_driver_log_0.txt", "70_driver_log_1.txt"]
    for rank, text in enumerate(logs.values()):
        assert f"hvd rank {rank}/2 args ['--rank', '{rank}']" in text, text
    # The failing rank's traceback is in its own log, as the seed's troubleshooting section says.
    failing = exp.submit(
        ScriptRunConfig(
            source_directory=str(code),
            script="train.py",
            arguments=["--fail"],
            distributed_job_config=MpiConfiguration(node_count=2),
        )
    )
    failing.wait_for_completion(raise_on_error=False)
    assert eng.get_run(failing.id).status == "Failed"
    logs = process_logs(eng, failing.id)
    assert (
        "Traceback" in logs["70_driver_log_1.txt"]
        and "RuntimeError: rank 1 ran out of data" in logs["70_driver_log_1.txt"]
    )
    assert "Traceback" not in logs["70_driver_log_0.txt"]


CHECK_TF_CONFIG = """
import json, os, socket
from azureml.core import Run
cfg = json.loads(os.environ["TF_CONFIG"])
cluster, task = cfg["cluster"], cfg["task"]
assert sorted(cluster) == ["ps", "worker"], cluster
assert len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1, cluster
assert task["type"] in cluster and 0 <= task["index"] < len(cluster[task["type"]]), task
mine = cluster[task["type"]][task["index"]]
host, port = mine.rsplit(":", 1)
with socket.socket() as s:  # this task's address is ours to listen on
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
print("tf " + json.dumps(cfg), flush=True)
Run.get_context().log("task_" + task["type"], task["index"])
"""


def test_tensorflow_distribution_gives_every_process_its_tf_config(eng: Engine, tmp_path: Path) -> None:
    folder = project(
        tmp_path / "proj",
        CHECK_TF_CONFIG,
        """
        command: python train.py
        code: src
        distribution: {type: tensorflow, worker_count: 2, parameter_server_count: 1}
        """,
    )
    final = eng.wait(eng.submit(load_job(folder / "job.yml")).name, timeout=60)
    logs = process_logs(eng, final.name)
    assert final.status == "Completed", (final.error, logs)
    assert sorted(logs) == [
        "70_driver_log_ps_0.txt",
        "70_driver_log_worker_0.txt",
        "70_driver_log_worker_1.txt",
    ]
    configs = {name: line(text, "tf") for name, text in logs.items()}
    clusters = {json.dumps(c["cluster"], sort_keys=True) for c in configs.values()}
    assert len(clusters) == 1  # one cluster, seen alike by every process
    cluster = configs["70_driver_log_worker_0.txt"]["cluster"]
    addresses = cluster["worker"] + cluster["ps"]
    assert len(set(addresses)) == 3 and all(a.startswith("127.0.0.1:") for a in addresses)
    assert {name: (c["task"]["type"], c["task"]["index"]) for name, c in configs.items()} == {
        "70_driver_log_worker_0.txt": ("worker", 0),
        "70_driver_log_worker_1.txt": ("worker", 1),
        "70_driver_log_ps_0.txt": ("ps", 0),
    }
    assert all(c["environment"] == "cloud" for c in configs.values())
    assert sorted(eng.metric_history(final.name, "task_worker").values.tolist()) == [0, 1]
    assert eng.metric_history(final.name, "task_ps").values.tolist() == [0]
    assert final.properties["distribution"] == {
        "kind": "tensorflow",
        "process_count_per_instance": 1,
        "instance_count": 1,
        "worker_count": 2,
        "parameter_server_count": 1,
    }


def test_tensorflow_worker_count_defaults_to_the_instance_count(eng: Engine, tmp_path: Path) -> None:
    folder = project(
        tmp_path / "proj",
        """
        import json, os
        cfg = json.loads(os.environ["TF_CONFIG"])
        print(f"{cfg['task']['type']} {cfg['task']['index']} of {len(cfg['cluster']['worker'])}", flush=True)
        """,
        """
        command: python train.py
        code: src
        resources: {instance_count: 3}
        distribution: {type: tensorflow}
        """,
    )
    final = eng.wait(eng.submit(load_job(folder / "job.yml")).name, timeout=60)
    logs = process_logs(eng, final.name)
    assert final.status == "Completed", (final.error, logs)
    assert [logs[f"70_driver_log_worker_{i}.txt"].strip() for i in range(3)] == [
        f"worker {i} of 3" for i in range(3)
    ]


def test_a_failing_parameter_server_fails_the_run_naming_it(eng: Engine, tmp_path: Path) -> None:
    folder = project(
        tmp_path / "proj",
        """
        import json, os, sys, time
        task = json.loads(os.environ["TF_CONFIG"])["task"]
        if task["type"] == "ps":
            sys.exit("parameter server: no variables to serve")
        time.sleep(120)
        """,
        """
        command: python train.py
        code: src
        distribution: {type: tensorflow, worker_count: 1, parameter_server_count: 1}
        """,
    )
    final = eng.wait(eng.submit(load_job(folder / "job.yml")).name, timeout=60)
    assert final.status == "Failed"
    assert final.error == "ps 0 of the script exited with code 1: parameter server: no variables to serve"


def test_job_stream_follows_the_main_process_of_a_distributed_run(
    eng: Engine, tmp_path: Path, cli: Any
) -> None:
    folder = project(
        tmp_path / "proj",
        """
        import os
        print("hello from rank " + os.environ["RANK"], flush=True)
        """,
        """
        command: python train.py
        code: src
        distribution: {type: pytorch, process_count_per_instance: 2}
        """,
    )
    name = eng.submit(load_job(folder / "job.yml")).name
    res = cli("job", "stream", "-n", name)
    assert res.returncode == 0, res.stderr
    assert "each writes its output to azureml-logs/70_driver_log_0.txt, 70_driver_log_1.txt" in res.stdout
    assert "hello from rank 0" in res.stdout and "hello from rank 1" not in res.stdout


def test_free_ports_are_distinct_and_bindable() -> None:
    from engine.compute.distributed import free_ports

    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
