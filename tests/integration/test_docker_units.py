"""Docker pieces that need no daemon: GPU requests (no GPU on these machines, so the request
construction is checked against a mock client), conda->pip translation, Dockerfile FROM parsing."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from engine.compute.docker import ContainerRun, container_name, gpu_options
from engine.environments.build.docker import conda_to_pip, dockerfile_bases
from engine.runs.launch import INJECT_DIR


def requests_of(gpus: object, env: dict[str, str] | None = None) -> tuple[list[dict], dict[str, str]]:
    reqs, out = gpu_options(gpus, env or {})  # type: ignore[arg-type]
    return [dict(r) for r in reqs], out


def test_gpu_requests() -> None:
    assert requests_of(None, {"CUDA_VISIBLE_DEVICES": "3"}) == ([], {"CUDA_VISIBLE_DEVICES": "3"})
    reqs, env = requests_of(2, {"CUDA_VISIBLE_DEVICES": "3", "NVIDIA_VISIBLE_DEVICES": "all"})
    assert reqs == [{"Driver": "", "Count": 2, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}]
    assert env == {"NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}  # host CUDA numbering dropped
    for spec in ("all", -1, "-1"):
        assert requests_of(spec)[0][0]["Count"] == -1
    assert requests_of("3")[0][0]["Count"] == 3
    for spec in ("device=0,2", "0,2"):
        req = requests_of(spec)[0][0]
        assert req["DeviceIDs"] == ["0", "2"] and req["Count"] == 0
    reqs, env = requests_of(0, {"CUDA_VISIBLE_DEVICES": "0"})
    assert reqs == [] and env == {"NVIDIA_VISIBLE_DEVICES": "void"}
    for bad in ("many", -2):
        with pytest.raises(ValueError):
            gpu_options(bad, {})  # type: ignore[arg-type]


def test_container_run_passes_the_gpu_request_to_the_daemon(tmp_path: Path) -> None:
    client = mock.MagicMock()
    client.containers.list.return_value = []
    run = ContainerRun("img:1", ["python", "train.py"], run_root=tmp_path / "run", env={"A": "1"},
                       inject_dir=INJECT_DIR, name="gpu run/1", gpus=1, network="none", docker=client)
    run.start()
    args, kwargs = client.containers.create.call_args
    assert args == ("img:1",)
    assert [dict(r) for r in kwargs["device_requests"]] == [dict(gpu_options(1, {})[0][0])]
    assert kwargs["name"] == container_name("gpu run/1") == "trainyard-gpu-run-1"
    assert kwargs["labels"] == {"trainyard.run": "gpu run/1"}
    assert kwargs["network_mode"] == "none" and kwargs["init"] is True
    assert kwargs["working_dir"] == "/trainyard/run/wd"
    env = kwargs["environment"]
    assert env["A"] == "1" and env["PYTHONPATH"] == "/trainyard/inject" and env["HOME"] == "/tmp"
    assert env["TRAINYARD_TRACKING_DIR"] == "/trainyard/run/tracking" and env["TRAINYARD_RUN_DIR"] == "/trainyard/run"
    assert kwargs["volumes"][str(INJECT_DIR.resolve())] == {"bind": "/trainyard/inject", "mode": "ro"}
    assert kwargs["volumes"][str((tmp_path / "run").resolve())] == {"bind": "/trainyard/run", "mode": "rw"}
    run.remove()


def test_conda_spec_to_pip_lines() -> None:
    lines, notes = conda_to_pip({"dependencies": [
        "python=3.11", "pip", "conda-forge::numpy=1.26", "scikit-learn>=1.3", "pandas 2.1.*",
        "pytorch::pytorch=2.1=py3.11_cpu_0", "cpuonly", "lightgbm", {"pip": ["six==1.16.0", "azureml-defaults"]},
    ]})
    assert lines == ["numpy==1.26.*", "scikit-learn>=1.3", "pandas==2.1.*", "torch==2.1.*", "lightgbm",
                     "six==1.16.0", "azureml-defaults"]
    assert any("'python=3.11'" in n and "skipped" in n for n in notes)
    assert any("'cpuonly'" in n for n in notes)


def test_dockerfile_bases_skip_stages_scratch_and_args() -> None:
    text = ("ARG BASE=x\nFROM --platform=linux/amd64 python:3.11-slim AS build\nRUN true\n"
            "FROM build AS final\nFROM scratch\nFROM ${BASE}\nFROM \\\n  debian:bookworm\n")
    assert dockerfile_bases(text) == ["python:3.11-slim", "debian:bookworm"]
