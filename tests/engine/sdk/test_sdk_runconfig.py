"""What a ScriptRunConfig carries besides the script: TensorflowConfiguration as the job's
tensorflow distribution, DockerConfiguration's shm_size as the run's /dev/shm, and a one-line note
(not a failure) for what this machine cannot honour: use_docker without an image, a GPU
environment without a GPU."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from engine.errors import InvalidSpec
from engine.sdk import (
    DockerConfiguration,
    Environment,
    Experiment,
    ScriptRunConfig,
    TensorflowConfiguration,
    Workspace,
)
from engine.sdk.submission import spec_from_config, submit_config


def _src(tmp_path: Path, **kwargs: object) -> ScriptRunConfig:
    (tmp_path / "train.py").write_text("import os\nprint('shm', os.environ.get('X', ''))\n")
    return ScriptRunConfig(source_directory=str(tmp_path), script="train.py", **kwargs)  # type: ignore[arg-type]


def test_tensorflow_configuration_is_the_jobs_tensorflow_distribution(tmp_path: Path) -> None:
    spec = spec_from_config(
        "exp",
        _src(
            tmp_path, distributed_job_config=TensorflowConfiguration(worker_count=2, parameter_server_count=1)
        ),
        {},
    )
    dist = spec.distribution
    assert dist is not None and dist.kind == "tensorflow"
    assert (dist.worker_count, dist.parameter_server_count, dist.world_size) == (2, 1, 3)


def test_docker_configuration_gives_the_runs_shm_size(tmp_path: Path) -> None:
    notes: list[str] = []
    config = _src(
        tmp_path,
        docker_runtime_config=DockerConfiguration(use_docker=True, shm_size="2g", arguments=["--ipc=host"]),
    )
    spec = spec_from_config("exp", config, {}, notes)
    assert spec.shm_size == "2g"
    assert notes == [
        (
            "DockerConfiguration(use_docker=True): the environment names no image, so the run is a process on this "
            "machine; set env.docker.base_image (or compute_target='docker') to run it in a container"
        ),
        (
            "DockerConfiguration(arguments=['--ipc=host']) is not passed to Docker here; shm_size is (the other "
            "settings come from the environment and the compute target)"
        ),
    ]

    env = Environment("in-a-container")
    env.docker.base_image = "python:3.11-slim"
    config = _src(tmp_path, environment=env)
    config.run_config.docker = DockerConfiguration(use_docker=True, shm_size="512m")
    notes = []
    assert spec_from_config("exp", config, {}, notes).shm_size == "512m" and notes == []
    assert spec_from_config("exp", _src(tmp_path), {}).shm_size is None
    with pytest.raises(InvalidSpec) as info:
        spec_from_config(
            "exp", _src(tmp_path, docker_runtime_config=DockerConfiguration(shm_size="lots")), {}
        )
    assert info.value.field == "shm_size" and "512m" in (info.value.hint or "")


def test_a_gpu_environment_runs_on_a_machine_without_one_with_a_note(
    ws: Workspace, tmp_path: Path, no_gpus: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = Environment("my-gpu-env")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    run = Experiment(ws, "gpu-note").submit(_src(tmp_path, environment=env))
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Note: ")]
    assert notes == [
        (
            "Note: my-gpu-env is a GPU environment and this machine has no GPU: the run uses its packages "
            "on the CPU (the same PyTorch falls back to the CPU)"
        )
    ]


def test_a_curated_gpu_environment_names_the_cpu_build_it_runs(
    ws: Workspace, tmp_path: Path, no_gpus: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = Environment.get(ws, "AzureML-PyTorch-1.6-GPU")
    assert (env.name, env.requested_name) == ("trainyard-pytorch-cpu", "AzureML-PyTorch-1.6-GPU")
    assert env.clone("mine").requested_name is None
    config = _src(tmp_path, environment=env)
    spec_env = spec_from_config("exp", config, {}).environment_spec
    assert spec_env is not None and spec_env.curated  # the curated build, unchanged
    # Submitting prints the note before the run is recorded; the run itself is the seed test's.
    with pytest.raises(RuntimeError, match="not submitted"):  # stop before a PyTorch venv is built
        submit_config(_Refusing(ws), "exp", config, None)
    assert capsys.readouterr().out.splitlines() == [
        (
            "Note: AzureML-PyTorch-1.6-GPU is a GPU environment and this machine has no GPU: the run uses "
            "trainyard-pytorch-cpu on the CPU (the same PyTorch falls back to the CPU)"
        )
    ]


class _Refusing:
    """An engine that answers the GPU question for real and refuses to submit."""

    def __init__(self, ws: Workspace) -> None:
        self.local_gpus = ws.engine.local_gpus

    def submit(self, *_args: object, **_kwargs: object) -> None:
        raise RuntimeError("not submitted")


def test_a_tensorflow_configuration_runs_one_process_per_task_with_its_tf_config(
    ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "tf.py").write_text(
        "import json, os\n"
        "config = json.loads(os.environ['TF_CONFIG'])\n"
        "print('TASK', config['task']['type'], config['task']['index'], json.dumps(config['cluster'], sort_keys=True))\n"
    )
    src = ScriptRunConfig(
        source_directory=str(tmp_path / "code"),
        script="tf.py",
        compute_target="local",
        distributed_job_config=TensorflowConfiguration(worker_count=2, parameter_server_count=1),
    )
    run = Experiment(ws, "tf").submit(src)
    run.wait_for_completion()
    logs = Path(ws.engine.get_run(run.id).run_dir, "azureml-logs")
    tasks = {}
    for log in sorted(logs.glob("70_driver_log_*.txt")):
        for line in log.read_text().splitlines():
            if line.startswith("TASK "):
                kind, index, cluster = line.split(" ", 3)[1:]
                tasks[(kind, int(index))] = cluster
    assert sorted(tasks) == [("ps", 0), ("worker", 0), ("worker", 1)]
    cluster = json.loads(next(iter(tasks.values())))
    assert (
        len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1 and set(tasks.values()) == {tasks[("ps", 0)]}
    )
