"""Jobs that run in built environments, end to end through the engine: a uv venv with a real pip
dependency, a conda env solved and installed by py-rattler from a real local channel; the cache
reused by the second run; bad environments fail the run in Preparing with the reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

BUILD_LOG = "20_image_build_log.txt"


@pytest.fixture
def eng(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = Engine.open(tmp_path / "ws")
    yield e
    e.close()


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def run_in(eng: Engine, code: Path, env: EnvironmentSpec, script: str = "main.py") -> tuple[str, RunFiles]:
    run = eng.submit(JobSpec(experiment_name="envs", code_dir=code, script=script, environment_spec=env))
    final = eng.wait(run.name, timeout=240)
    files = RunFiles(Path(final.run_dir))
    assert final.status == "Completed", (final.error, files.driver_log.read_text() if files.driver_log.exists() else "")
    return run.name, files


def test_pip_environment_is_built_with_uv_then_reused(eng: Engine, tmp_path: Path) -> None:
    code = project(tmp_path / "p", {"main.py": """
        import sys, six
        from azureml.core import Run
        Run.get_context().log("ok", 1)
        print("six from", six.__file__)
        print("prefix", sys.prefix)
    """})
    env = EnvironmentSpec(name="with-six", pip_requirements=("six",))
    name, files = run_in(eng, code, env)
    log = (files.system_logs / BUILD_LOG).read_text()
    assert "uv" in log and "six" in log
    out = files.driver_log.read_text()
    assert str(eng.location.envs_dir) in out  # six came from the built env, not Trainyard's venv
    assert eng.metric_history(name, "ok").values.tolist() == [1.0]
    assert [e.status for e in eng.get_run(name).status_history][:5] == [
        "NotStarted", "Queued", "Preparing", "Starting", "Running"]
    # The same spec again: no build at all.
    _name2, files2 = run_in(eng, code, EnvironmentSpec(name="again", pip_requirements=("six",)))
    log2 = (files2.system_logs / BUILD_LOG).read_text()
    assert "Using cached environment" in log2
    assert "uv" not in log2.replace("Using cached environment", "")


def test_conda_environment_is_solved_and_installed_by_rattler(eng: Engine, tmp_path: Path,
                                                              conda_channel: Path) -> None:
    code = project(tmp_path / "p", {"main.py": """
        import mymodule, sys
        print("mymodule from", mymodule.__file__)
    """})
    conda = {"name": "t", "channels": [conda_channel.as_uri()], "dependencies": ["python", "mymodule"]}
    _name, files = run_in(eng, code, EnvironmentSpec(name="conda-env", conda=conda))
    assert "mymodule" in (files.system_logs / BUILD_LOG).read_text()
    assert str(eng.location.envs_dir) in files.driver_log.read_text()


def test_unknown_pip_package_fails_the_run_in_preparing_with_the_reason(eng: Engine, tmp_path: Path) -> None:
    code = project(tmp_path / "p", {"main.py": "print('never')\n"})
    env = EnvironmentSpec(name="bad", pip_requirements=("no-such-package-trainyard-xyz",))
    run = eng.submit(JobSpec(experiment_name="envs", code_dir=code, script="main.py", environment_spec=env))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Failed"
    assert "no-such-package-trainyard-xyz" in (final.error or "")
    assert [e.status for e in final.status_history][-2:] == ["Preparing", "Failed"]
    files = RunFiles(Path(final.run_dir))
    assert "no-such-package-trainyard-xyz" in (files.system_logs / BUILD_LOG).read_text()
    assert not files.driver_log.exists() or "never" not in files.driver_log.read_text()


def test_unsatisfiable_conda_spec_names_the_conflict(eng: Engine, tmp_path: Path, conda_channel: Path) -> None:
    code = project(tmp_path / "p", {"main.py": "print('never')\n"})
    conda = {"channels": [conda_channel.as_uri()], "dependencies": ["hello", "libgreet <2"]}
    run = eng.submit(JobSpec(experiment_name="envs", code_dir=code, script="main.py",
                             environment_spec=EnvironmentSpec(name="conflict", conda=conda)))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Failed"
    assert "libgreet" in (final.error or "")


def test_cli_registered_environment_used_by_a_job_yaml(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    proj = project(tmp_path / "proj", {
        "env/requirements.txt": "six\n",
        "env/env.yml": "name: six-env\ndescription: six for the job\npip_requirements: requirements.txt\n",
        "src/main.py": "import six\nprint('six', six.__version__)\n",
        "job.yml": "code: src\ncommand: python main.py\nenvironment: azureml:six-env@latest\n",
    })
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(tmp_path / "ws")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=300)

    created = cli("environment", "create", "-f", str(proj / "env" / "env.yml"), "-o", "json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["version"] == 1
    res = cli("job", "create", "-f", str(proj / "job.yml"), "--stream", "-o", "json")
    assert res.returncode == 0, res.stderr
    job = json.loads(res.stdout)
    assert job["environment"] == "six-env:1"
    assert "six " in res.stderr  # the streamed driver log goes to stderr with -o json
    log = Path(job["run_dir"]) / "azureml-logs" / "20_image_build_log.txt"
    assert "six" in log.read_text()
