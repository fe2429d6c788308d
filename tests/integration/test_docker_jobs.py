"""Jobs in the local Docker daemon through the whole engine: submit -> image built from the base
+ pip spec (log in 20_image_build_log.txt) -> container run with live metrics, outputs owned by
the user -> container removed; cancel stops the container; a failing Dockerfile step and a
stopped daemon fail the run in Preparing with the reason."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

BASE = "trainyard-test-base:latest"


@pytest.fixture
def eng(tmp_path: Path, docker_client: Any):  # type: ignore[no-untyped-def]
    e = Engine.open(tmp_path / "ws")
    yield e
    e.close()


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def containers_of(docker_client: Any, run_name: str) -> list[Any]:
    return docker_client.containers.list(all=True, filters={"label": f"trainyard.run={run_name}"})


def test_a_job_runs_in_a_container_built_from_the_base_image(eng: Engine, tmp_path: Path, docker_client: Any) -> None:
    code = project(tmp_path / "p", {"main.py": """
        import os, six
        from azureml.core import Run
        run = Run.get_context()
        for i in range(50):
            run.log("loss", 1.0 / (i + 1))
        os.makedirs("outputs", exist_ok=True)
        open("outputs/where.txt", "w").write(os.environ.get("HOSTNAME", "?"))
        print("in a container:", os.path.exists("/.dockerenv"), "six", six.__version__)
    """})
    # A comment unique to this test run makes the spec (and so the image) new: a real build.
    env = EnvironmentSpec(name="docker-six", image=BASE, pip_requirements=("six", f"# {time.time_ns()}"))
    run = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py", environment_spec=env))
    final = eng.wait(run.name, timeout=300)
    files = RunFiles(Path(final.run_dir))
    assert final.status == "Completed", (final.error, files.driver_log.read_text() if files.driver_log.exists() else "")
    assert "in a container: True six" in files.driver_log.read_text()
    build_log = (files.system_logs / "20_image_build_log.txt").read_text()
    assert "Step " in build_log and "six" in build_log
    assert eng.metric_history(run.name, "loss").values.tolist() == [1.0 / (i + 1) for i in range(50)]
    out = files.outputs / "where.txt"
    assert out.exists() and out.stat().st_uid == os.getuid()
    assert containers_of(docker_client, run.name) == []  # removed after the run
    # The same spec again starts from the cached image: no build step in its log.
    again = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py", environment_spec=env))
    final2 = eng.wait(again.name, timeout=120)
    assert final2.status == "Completed"
    log2 = (RunFiles(Path(final2.run_dir)).system_logs / "20_image_build_log.txt").read_text()
    assert "Step " not in log2


def test_cancel_stops_the_container(eng: Engine, tmp_path: Path, docker_client: Any) -> None:
    code = project(tmp_path / "p", {"sleep.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"})
    run = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="sleep.py", compute="docker",
                             environment_spec=EnvironmentSpec(name="base", image=BASE)))
    files = RunFiles(Path(run.run_dir))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (files.driver_log.exists() and "sleeping" in files.driver_log.read_text()):
        time.sleep(0.1)
    assert eng.get_run(run.name).status == "Running"
    t0 = time.monotonic()
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Canceled"
    # The script ignores nothing: TERM ends it at once, well inside the 10 s grace plus the supervisor's
    # and `docker stop`'s own time on a loaded 2-core machine (the script would sleep 600 s).
    assert time.monotonic() - t0 < 30
    assert containers_of(docker_client, run.name) == []


def test_a_failing_dockerfile_step_fails_the_run_in_preparing(eng: Engine, tmp_path: Path, docker_client: Any) -> None:
    ctx = project(tmp_path / "ctx", {"Dockerfile": f"FROM {BASE}\nRUN echo building && exit 7\n"})
    code = project(tmp_path / "p", {"main.py": "print('never')\n"})
    env = EnvironmentSpec(name="broken", build_context=str(ctx))
    run = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py", environment_spec=env))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Failed"
    assert "exit 7" in (final.error or "") or "non-zero code: 7" in (final.error or "")
    log = (RunFiles(Path(final.run_dir)).system_logs / "20_image_build_log.txt").read_text()
    assert "RUN echo building && exit 7" in log


def test_docker_not_running_fails_the_run_with_how_to_start_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    e = Engine.open(tmp_path / "ws")
    code = project(tmp_path / "p", {"main.py": "print('never')\n"})
    run = e.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py",
                           environment_spec=EnvironmentSpec(name="base", image=BASE)))
    final = e.wait(run.name, timeout=60)
    assert final.status == "Failed"
    assert "no-daemon.sock" in (final.error or "")
    assert "dockerd" in (final.error or "") and "systemctl start docker" in (final.error or "")


def test_a_missing_image_with_no_registry_fails_the_run_in_preparing(eng: Engine, tmp_path: Path) -> None:
    code = project(tmp_path / "p", {"main.py": "print('never')\n"})
    env = EnvironmentSpec(name="ghost", image="trainyard-no-such-image:404")
    t0 = time.monotonic()
    run = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py", environment_spec=env))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Failed"
    assert [e.status for e in final.status_history][-2:] == ["Preparing", "Failed"]
    assert "trainyard-no-such-image:404" in (final.error or "")
    # No pull is tried (with no registry it would wait minutes for the network); the bound leaves room
    # for the supervisor's start on a loaded 2-core machine.
    assert time.monotonic() - t0 < 60
