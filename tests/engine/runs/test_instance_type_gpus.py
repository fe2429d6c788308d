"""`resources.instance_type` (an Azure VM size) in a job file: the run asks for the GPUs one VM of
that size has, as far as this machine has them (the FAKE nvidia-smi gives it four), and nothing
on a CPU size or a machine without GPUs; `resources.gpus` decides instead when given."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from engine.api import Engine
from engine.runtime.files import RunFiles
from engine.specs.jobs import load_job

ROOT = Path(__file__).resolve().parents[3]
FAKE_NVIDIA_SMI = ROOT / "tests" / "fixtures" / "fake_nvidia_smi"
RECORDED = ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv"


def _job(folder: Path, name: str, resources: str) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(f"command: python -c \"print('sized')\"\nresources:\n{resources}")
    return path


def _asked(eng: Engine, job: Path) -> object:
    run = eng.submit(load_job(job))
    asked = json.loads(RunFiles(Path(run.run_dir)).spec.read_text())["gpus"]
    assert eng.wait(run.name, timeout=120).status == "Completed"
    return asked


def test_instance_type_asks_for_the_size_s_gpus_as_far_as_the_machine_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-gpu-bin"
    fake.mkdir()
    shutil.copy(FAKE_NVIDIA_SMI, fake / "nvidia-smi")
    shutil.copy(RECORDED, fake / RECORDED.name)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TRAINYARD_GPU_LEASES", str(tmp_path / "gpu-leases"))
    eng = Engine.open(tmp_path / "ws")
    try:
        assert _asked(eng, _job(tmp_path, "two", "  instance_type: Standard_NC12s_v3\n")) == 2
        assert (
            _asked(eng, _job(tmp_path, "eight", "  instance_type: Standard_ND96asr_v4\n")) == 4
        )  # all there are
        assert _asked(eng, _job(tmp_path, "cpu", "  instance_type: Standard_DS3_v2\n")) is None
        assert _asked(eng, _job(tmp_path, "mine", "  instance_type: Standard_NC24\n  gpus: 1\n")) == 1
    finally:
        eng.close()


def test_without_gpus_here_a_gpu_size_runs_on_the_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + "/usr/bin:/bin")
    eng = Engine.open(tmp_path / "ws")
    try:
        if eng.local_gpus().gpus:
            pytest.skip("this machine has GPUs")  # the case above covers them
        assert _asked(eng, _job(tmp_path, "gpu", "  instance_type: Standard_NC6\n")) is None
    finally:
        eng.close()
