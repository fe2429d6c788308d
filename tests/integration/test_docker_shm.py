"""Azure ML's container settings in a real Docker container: `resources.shm_size` (and the SDK's
DockerConfiguration(shm_size=...), which is the same JobSpec field) sizes /dev/shm, with Azure's
2g when the job says nothing (Docker's own 64m starves PyTorch DataLoader workers); a script's
`$VAR` arguments take the container's variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.specs.jobs import load_job

BASE = "trainyard-test-base:latest"

SHOW_SHM = """
import json, os, sys
st = os.statvfs("/dev/shm")
print("shm " + json.dumps({"bytes": st.f_blocks * st.f_frsize, "argv": sys.argv[1:]}), flush=True)
"""


@pytest.fixture
def eng(tmp_path: Path, docker_client: Any):  # type: ignore[no-untyped-def]
    e = Engine.open(tmp_path / "ws")
    yield e
    e.close()


def shm_seen(run: Any) -> dict[str, Any]:
    text = RunFiles(Path(run.run_dir)).driver_log.read_text()
    (line,) = [ln for ln in text.splitlines() if ln.startswith("shm ")]
    return json.loads(line[4:])


def test_resources_shm_size_sizes_dev_shm_in_the_container(eng: Engine, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent(SHOW_SHM))
    (tmp_path / "job.yml").write_text(
        textwrap.dedent(f"""
        command: python train.py
        code: src
        compute: docker
        environment: {{image: "{BASE}"}}
        resources: {{shm_size: 256m}}
        """).lstrip()
    )
    final = eng.wait(eng.submit(load_job(tmp_path / "job.yml")).name, timeout=300)
    assert final.status == "Completed", final.error
    assert shm_seen(final)["bytes"] == 256 * 2**20


def test_without_shm_size_a_container_gets_azures_2g_and_arguments_are_expanded(
    eng: Engine, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent(SHOW_SHM))
    spec = JobSpec(
        experiment_name="shm",
        code_dir=tmp_path / "src",
        script="train.py",
        compute="docker",
        arguments=("--run", "$TRAINYARD_RUN_ID", "--home", "${HOME}", "--unset", "$NOT_SET_HERE"),
        environment_spec=EnvironmentSpec(name="base", image=BASE),
    )
    final = eng.wait(eng.submit(spec).name, timeout=300)
    assert final.status == "Completed", final.error
    seen = shm_seen(final)
    assert seen["bytes"] == 2 * 2**30
    assert seen["argv"] == ["--run", final.name, "--home", "/tmp", "--unset", "$NOT_SET_HERE"]


@pytest.mark.parametrize("value", ["lots", "0", "2 g"])
def test_a_bad_shm_size_names_the_file_and_line(value: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print(1)\n")
    path = tmp_path / "job.yml"
    path.write_text(f'command: python train.py\ncode: src\nresources:\n  shm_size: "{value}"\n')
    res = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "job", "create", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TRAINYARD_WORKSPACE": str(tmp_path / "ws")},
    )
    assert res.returncode != 0
    assert f"{path}:4: `resources.shm_size`: '{value}' is not a size" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_every_sweep_trial_gets_the_sweeps_shm_size(eng: Engine, tmp_path: Path) -> None:
    """A sweep's `resources.shm_size` reaches each trial's container, as a command job's does."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(
        textwrap.dedent(SHOW_SHM) + "from azureml.core import Run\nRun.get_context().log('score', 1.0)\n"
    )
    (tmp_path / "sweep.yml").write_text(
        textwrap.dedent(f"""
        type: sweep
        compute: docker
        resources: {{shm_size: 128m}}
        trial:
          command: python train.py --lr ${{{{search_space.lr}}}}
          code: src
          environment: {{image: "{BASE}"}}
        search_space:
          lr: {{type: choice, values: [0.1, 0.01]}}
        sampling_algorithm: grid
        objective: {{goal: maximize, primary_metric: score}}
        limits: {{max_total_trials: 2, max_concurrent_trials: 2}}
        """).lstrip()
    )
    sweep = eng.wait(eng.submit(load_job(tmp_path / "sweep.yml")).name, timeout=300)
    assert sweep.status == "Completed", sweep.error
    trials = eng.children(sweep.name)
    assert len(trials) == 2
    assert [shm_seen(t)["bytes"] for t in trials] == [128 * 2**20] * 2
