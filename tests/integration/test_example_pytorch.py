"""The seed-style example project, trained for real with PyTorch on the CPU, end to end through
the CLI (job YAML) and through an unchanged Azure-ML-SDK-v1 control script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "cifar-pytorch"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dest = tmp_path / "cifar-pytorch"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("outputs", "__pycache__", ".trainyard"))
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(tmp_path / "ws"))
    return dest


def trainyard(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


def test_cli_trains_the_example_and_gives_back_every_point_and_the_model(example: Path, tmp_path: Path) -> None:
    res = trainyard("job", "create", "-f", str(example / "job.yml"), "--set", "inputs.steps=200", "--stream")
    assert res.returncode == 0, res.stderr + res.stdout
    assert "Finished Training" in res.stdout  # the driver log, streamed live
    assert "epoch=1, batch=  200" in res.stdout
    jobs = json.loads(trainyard("job", "list", "-o", "json").stdout)
    assert len(jobs) == 1 and jobs[0]["experiment_name"] == "cifar-pytorch"
    name = jobs[0]["name"]
    points = json.loads(trainyard("job", "metrics", "-n", name, "--metric", "loss", "-o", "json").stdout)
    assert [p["step"] for p in points] == list(range(200))
    assert all(0 < p["value"] < 10 for p in points)
    # The generated data is learnable: the loss falls from ln 10 and the validation accuracy rises.
    losses = [p["value"] for p in points]
    assert sum(losses[:20]) / 20 > 2.0 and sum(losses[-20:]) / 20 < 1.0, losses[::20]
    accuracy = json.loads(trainyard("job", "metrics", "-n", name, "--metric", "val/accuracy", "-o", "json").stdout)
    assert [p["step"] for p in accuracy] == [0, 1, 2, 3]  # every 50 steps
    assert accuracy[0]["value"] < 0.5 and accuracy[-1]["value"] > 0.8, accuracy
    dl = trainyard("job", "download", "-n", name, "--output", str(tmp_path / "dl"))
    assert dl.returncode == 0, dl.stderr
    import torch

    state = torch.load(tmp_path / "dl" / name / "outputs" / "model.pt", weights_only=True)
    assert state["fc3.weight"].shape == (10, 84)


def test_control_script_runs_unchanged_and_registers_the_model(example: Path) -> None:
    script = (example / "run-pytorch.py").read_text()
    assert "compute_target=\"local\"" in script or "compute_target='local'" in script
    res = trainyard("python", "run-pytorch.py", cwd=example)
    assert res.returncode == 0, res.stderr + res.stdout
    assert "trainyard://runs/" in res.stdout
    assert "Finished Training" in res.stdout
    assert "Status: Completed" in res.stdout
    models = json.loads(trainyard("model", "list", "-o", "json").stdout)
    assert [(m["name"], m["version"]) for m in models] == [("cifar-net", 1)]
    run_name = models[0]["run"]
    shown = json.loads(trainyard("job", "show", "-n", run_name, "-o", "json").stdout)
    assert shown["experiment_name"] == "day1-experiment-train"
    assert shown["status"] == "Completed"
    assert isinstance(shown["metrics"]["loss"], float)
    points = json.loads(trainyard("job", "metrics", "-n", run_name, "--metric", "loss", "-o", "json").stdout)
    assert len(points) == 300
    assert Path(models[0]["path"]).is_file()


def test_seed_control_script_with_the_curated_pytorch_environment(example: Path) -> None:
    """The seed tutorial's `ws.environments['AzureML-PyTorch-1.6-CPU']`: a curated environment,
    built once with uv (a venv of its own), then used by the run."""
    (example / "run-curated.py").write_text(
        "from azureml.core import Experiment, ScriptRunConfig, Workspace\n"
        "ws = Workspace.from_config()\n"
        "experiment = Experiment(workspace=ws, name='day1-experiment-train')\n"
        "config = ScriptRunConfig(source_directory='./src', script='train.py', arguments=['--steps', 50],\n"
        "                         compute_target='local')\n"
        "env = ws.environments['AzureML-PyTorch-1.6-CPU']\n"
        "config.run_config.environment = env\n"
        "run = experiment.submit(config)\n"
        "run.wait_for_completion(show_output=True)\n"
        "print('ENV', run.get_details()['environment'])\n"
    )
    res = trainyard("python", "run-curated.py", cwd=example, timeout=600)
    assert res.returncode == 0, res.stderr + res.stdout
    assert "Finished Training" in res.stdout
    assert "ENV trainyard-pytorch-cpu:1" in res.stdout
    jobs = json.loads(trainyard("job", "list", "-o", "json").stdout)
    run_dir = Path(jobs[0]["run_dir"])
    build_log = (run_dir / "azureml-logs" / "20_image_build_log.txt").read_text()
    assert "torch" in build_log
    interpreter = jobs[0]["properties"]["interpreter"]
    assert interpreter.startswith(os.environ["TRAINYARD_ENV_CACHE"]) and interpreter != sys.executable
