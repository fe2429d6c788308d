"""The SDK v1 `Environment` as the seeds' control scripts use it: built from files, curated by
name, changed, registered, cloned, saved and read back by `trainyard environment create`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import InvalidSpec, InvalidState, NotFound
from engine.sdk import CondaDependencies, Environment, ScriptRunConfig, Workspace
from engine.sdk.runconfig import PyTorchConfiguration
from engine.sdk.submission import spec_from_config

_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]

SEED_CONDA = """\
channels:
- conda-forge
dependencies:
- python=3.6.2
- pip:
  - azureml-defaults
  - torch==1.6.0
  - torchvision==0.7.0
  - future==0.17.1
  - pillow
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- building environments
def test_from_conda_specification_as_in_the_seed(tmp_path: Path) -> None:
    conda = write(tmp_path / "conda_dependencies.yml", SEED_CONDA)
    env = Environment.from_conda_specification(name="pytorch-1.6-gpu", file_path=str(conda))
    env.docker.enabled = True
    env.docker.base_image = "mcr.microsoft.com/azureml/openmpi3.1.2-cuda10.1-cudnn7-ubuntu18.04"
    spec = env.to_spec()
    assert spec.kind == "docker" and spec.image == env.docker.base_image
    assert spec.conda == {"name": None, "channels": ["conda-forge"], "dependencies": [
        "python=3.6.2",
        {"pip": ["azureml-defaults", "torch==1.6.0", "torchvision==0.7.0", "future==0.17.1", "pillow"]}]}
    assert spec.conda_source == str(conda.resolve())
    assert env.python.conda_dependencies is not None
    assert env.python.conda_dependencies.pip_packages[:2] == ["azureml-defaults", "torch==1.6.0"]


def test_malformed_conda_specification_names_file_and_line(tmp_path: Path) -> None:
    conda = write(tmp_path / "env.yml", "dependencies:\n  - python=3.11\n  - pip:\n    - torch\n - numpy\n")
    with pytest.raises(InvalidSpec) as info:
        Environment.from_conda_specification("e", str(conda))
    assert info.value.file == str(conda.resolve()) and info.value.line == 5


def test_from_pip_requirements_is_a_venv(tmp_path: Path) -> None:
    req = write(tmp_path / "requirements.txt", "# ml\nscikit-learn==1.9.1\npandas==3.1.1\n")
    spec = Environment.from_pip_requirements("sk", str(req)).to_spec()
    assert spec.kind == "venv" and spec.pip_requirements == ("scikit-learn==1.9.1", "pandas==3.1.1")


def test_conda_dependencies_changes_reach_the_spec() -> None:
    env = Environment("made-in-code")
    deps = CondaDependencies.create(conda_packages=["numpy"], pip_packages=["rich"], python_version="3.11")
    deps.add_channel("conda-forge")
    deps.add_pip_package("tqdm")
    env.python.conda_dependencies = deps
    env.environment_variables = {"OMP_NUM_THREADS": 2, "DEBUG": False}
    spec = env.to_spec()
    assert spec.kind == "conda"
    assert spec.conda == {"name": None, "channels": ["conda-forge"],
                          "dependencies": ["numpy", "python=3.11", {"pip": ["rich", "tqdm"]}]}
    assert spec.environment_variables == {"OMP_NUM_THREADS": "2", "DEBUG": "false"}


def test_user_managed_environment_runs_the_given_interpreter() -> None:
    env = Environment("user-managed-env")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/home/johndoe/miniconda3/envs/myenv/bin/python"
    spec = env.to_spec()
    assert spec.kind == "user" and spec.interpreter_path == env.python.interpreter_path


def test_base_dockerfile_text_or_path_gives_the_same_build_context(tmp_path: Path) -> None:
    text = "FROM python:3.11-slim\nRUN pip install rich\n"
    dockerfile = write(tmp_path / "Dockerfile", text)
    from_text = Environment("a")
    from_text.docker.base_dockerfile = text
    from_path = Environment("b")
    from_path.docker.base_dockerfile = str(dockerfile)
    a, b = from_text.to_spec(), from_path.to_spec()
    assert a.kind == "docker" and a.build_context == b.build_context
    assert a.build_hash() == b.build_hash()
    assert Path(a.build_context or "", a.dockerfile).read_text() == text


def test_contradictory_docker_settings_are_refused(tmp_path: Path) -> None:
    env = Environment.from_pip_requirements("x", str(write(tmp_path / "r.txt", "rich\n")))
    env.docker.base_dockerfile = "FROM python:3.11\n"
    with pytest.raises(InvalidSpec, match="adds nothing on top"):
        env.to_spec()
    env.docker.base_image = "python:3.11"
    with pytest.raises(InvalidSpec, match=r"both docker\.base_image and docker\.base_dockerfile"):
        env.to_spec()


# --------------------------------------------------------------------------- curated and registered
def test_curated_environment_by_its_azure_ml_name(ws: Workspace) -> None:
    env = ws.environments["AzureML-PyTorch-1.6-CPU"]
    assert env.name == "trainyard-pytorch-cpu" and env.version == "1"
    spec = env.to_spec()
    assert spec.curated and spec.pip_requirements == ("torch==2.14.1", "torchvision==0.29.1")
    assert Environment.get(workspace=ws, name="AzureML-Minimal").name == "trainyard-python"
    assert "AzureML-Minimal" in ws.environments and "trainyard-sklearn" in ws.environments
    assert "nothing-like-it" not in ws.environments
    with pytest.raises(NotFound) as info:
        ws.environments["AzureML-PyTorh-1.6-CPU"]
    assert "AzureML-PyTorch-1.6-CPU" in (info.value.hint or "")


def test_a_curated_environment_cannot_be_registered_but_its_clone_can(ws: Workspace) -> None:
    curated = Environment.get(ws, "AzureML-PyTorch-1.6-GPU")
    curated.environment_variables["EXTRA"] = "1"
    assert not curated.to_spec().curated  # changed: no longer the curated build
    with pytest.raises(InvalidSpec) as info:
        curated.register(ws)
    assert "reserved" in info.value.message and "clone" in (info.value.hint or "")
    mine = curated.clone("pytorch-1.6-gpu").register(ws)
    assert (mine.name, mine.version) == ("pytorch-1.6-gpu", "1")
    assert mine.to_spec().pip_requirements == ("torch==2.14.1", "torchvision==0.29.1")
    assert mine.environment_variables == {"EXTRA": "1"}


def test_register_versions_and_get(ws: Workspace, tmp_path: Path) -> None:
    conda = write(tmp_path / "conda.yml", "dependencies: [python=3.11]\n")
    env = Environment.from_conda_specification("my-env", str(conda))
    first = env.register(ws)
    assert first.version == "1" and env.version == "1"
    assert env.register(ws).version == "1"  # unchanged: the same version, as in Azure ML
    env.python.conda_dependencies.add_pip_package("rich")  # type: ignore[union-attr]
    assert env.register(ws).version == "2"
    env.environment_variables["MODE"] = "fast"
    assert env.register(ws).version == "3"
    assert Environment.get(ws, "my-env").version == "3"
    assert Environment.get(ws, "my-env", version=2).to_spec().conda["dependencies"][-1] == {"pip": ["rich"]}  # type: ignore[index]
    assert Environment.get(ws, "azureml:my-env:1").version == "1"
    assert ws.environments["my-env"].version == "3"
    assert "my-env" in Environment.list(ws)
    with pytest.raises(NotFound) as info:
        Environment.get(ws, "my-env", version=9)
    assert "1, 2, 3" in (info.value.hint or "")


def test_register_refuses_names_that_references_cannot_express(ws: Workspace) -> None:
    with pytest.raises(InvalidSpec, match="not a valid environment name"):
        Environment("my env:2").register(ws)


# --------------------------------------------------------------------------- files
def test_save_to_directory_then_environment_create_round_trip(ws: Workspace, tmp_path: Path) -> None:
    conda = write(tmp_path / "src" / "conda.yml", SEED_CONDA)
    env = Environment.from_conda_specification("saved-env", str(conda))
    env.docker.base_image = "python:3.11-slim"
    env.environment_variables = {"A": "1"}
    env.description = "saved and read back"
    out = tmp_path / "saved"
    env.save_to_directory(str(out))
    assert sorted(p.name for p in out.iterdir()) == ["conda_dependencies.yml", "env.yml"]

    res = subprocess.run([*CLI, "environment", "create", "-f", str(out / "env.yml"), "-o", "json"],
                         check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TRAINYARD_WORKSPACE": ws.location})
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["name"], doc["version"], doc["kind"]) == ("saved-env", 1, "docker")
    registered = Environment.get(ws, "saved-env").to_spec()
    original = env.to_spec()
    assert registered.build_hash() == original.build_hash()
    assert (registered.conda, registered.image, registered.environment_variables, registered.description) == (
        original.conda, original.image, original.environment_variables, original.description)
    assert Environment.load_from_directory(str(out)).to_spec().build_hash() == original.build_hash()


def test_save_to_directory_does_not_overwrite_unless_asked(tmp_path: Path) -> None:
    env = Environment.from_pip_requirements("p", str(write(tmp_path / "requirements.txt", "rich\n")))
    out = tmp_path / "out"
    env.save_to_directory(out)
    with pytest.raises(InvalidState) as info:
        env.save_to_directory(out)
    assert "overwrite=True" in (info.value.hint or "")
    env._pip_requirements = ["rich==13.7.1"]
    env.save_to_directory(out, overwrite=True)
    assert (out / "requirements.txt").read_text() == "rich==13.7.1\n"


def test_save_a_curated_environment_to_see_its_packages(ws: Workspace, tmp_path: Path) -> None:
    env = Environment.get(workspace=ws, name="AzureML-PyTorch-1.6-GPU")
    env.save_to_directory(path=str(tmp_path / "AzureML-PyTorch-1.6-GPU"))
    assert (tmp_path / "AzureML-PyTorch-1.6-GPU" / "requirements.txt").read_text() == \
        "torch==2.14.1\ntorchvision==0.29.1\n"


def test_save_and_read_back_a_docker_build_context(tmp_path: Path) -> None:
    write(tmp_path / "ctx" / "Dockerfile", "FROM python:3.11-slim\nCOPY app.py /app.py\n")
    write(tmp_path / "ctx" / "app.py", "print('hi')\n")
    env = Environment.from_docker_build_context("built", str(tmp_path / "ctx"))
    env.save_to_directory(tmp_path / "out")
    back = Environment.load_from_directory(tmp_path / "out").to_spec()
    assert back.kind == "docker" and Path(back.build_context or "") == (tmp_path / "out" / "docker-context").resolve()
    assert (Path(back.build_context or "") / "app.py").read_text() == "print('hi')\n"


# --------------------------------------------------------------------------- existing conda environments
def fake_conda(folder: Path, envs: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "conda"
    script.write_text("#!/bin/sh\n" f"echo '{json.dumps({'envs': envs})}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_from_existing_conda_environment_records_its_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "miniconda3"
    fake_conda(tmp_path / "bin", [str(root), str(root / "envs" / "pytorch-env")])
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    env = Environment.from_existing_conda_environment("from-conda", "pytorch-env")
    spec = env.to_spec()
    assert spec.kind == "user" and spec.interpreter_path == str(root / "envs" / "pytorch-env" / "bin" / "python")
    base = Environment.from_existing_conda_environment("from-base", "base").to_spec()
    assert base.interpreter_path == str(root / "bin" / "python")
    with pytest.raises(NotFound) as info:
        Environment.from_existing_conda_environment("x", "pytorch-evn")
    assert info.value.hint == "did you mean pytorch-env?"


def test_from_existing_conda_environment_without_conda_names_conda(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    with pytest.raises(NotFound) as info:
        Environment.from_existing_conda_environment("x", "pytorch-env")
    assert "conda was not found" in info.value.message and "CONDA_EXE" in (info.value.hint or "")


# --------------------------------------------------------------------------- submission
def test_submitting_with_an_environment_carries_its_spec(tmp_path: Path) -> None:
    conda = write(tmp_path / "conda.yml", SEED_CONDA)
    env = Environment.from_conda_specification("pytorch-env", str(conda))
    config = ScriptRunConfig(source_directory=str(tmp_path), script="train.py", environment=env)
    job = spec_from_config("exp", config, {})
    assert job.environment_spec == env.to_spec() and job.interpreter_path is None
    assert job.environment == "pytorch-env"

    user = Environment("user-managed-env")
    user.python.user_managed_dependencies = True
    user.python.interpreter_path = sys.executable
    user.environment_variables = {"X": "1"}
    job = spec_from_config("exp", ScriptRunConfig(str(tmp_path), "train.py", environment=user), {})
    assert job.interpreter_path == sys.executable and job.environment_variables == {"X": "1"}

    dist = ScriptRunConfig(str(tmp_path), "train.py", environment=env,
                           distributed_job_config=PyTorchConfiguration(process_count=2))
    job = spec_from_config("exp", dist, {})
    assert (job.distribution.kind, job.distribution.world_size) == ("pytorch", 2)
    with pytest.raises(InvalidSpec, match="not supported"):
        spec_from_config("exp", ScriptRunConfig(str(tmp_path), "train.py", distributed_job_config=object()), {})
