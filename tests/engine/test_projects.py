"""What the engine finds in a project folder, and the job the Submit dialog makes from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidSpec
from engine.projects import (
    check_environment_variables,
    default_experiment_name,
    find_scripts,
    scan_project,
    script_job,
)

GUARD = 'if __name__ == "__main__":\n    main()\n'
JOB = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: python train.py --points 3
code: ..
experiment_name: from-yaml
environment_variables:
  GREETING: hi
"""


def _project(root: Path) -> Path:
    folder = root / "Digits Classifier"
    (folder / "tools").mkdir(parents=True)
    (folder / "train.py").write_text("def main():\n    pass\n" + GUARD)
    (folder / "main.py").write_text("def main():\n    pass\n\n" + GUARD)
    (folder / "evaluate.py").write_text("def main():\n    print('eval')\n\n" + GUARD)
    (folder / "lib.py").write_text("def helper():\n    return 1\n")
    (folder / "tools" / "export.py").write_text("if __name__ == '__main__':\n    pass\n")
    (folder / ".venv" / "lib").mkdir(parents=True)
    (folder / ".venv" / "lib" / "x.py").write_text(GUARD)
    env = folder / "env"  # a virtual environment under an unusual name is skipped too
    (env / "lib").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (env / "lib" / "y.py").write_text(GUARD)
    (env / "requirements.txt").write_text("numpy\n")
    return folder


def test_scripts_rank_train_and_main_first(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    assert find_scripts(folder) == ["train.py", "main.py", "evaluate.py", "tools/export.py"]
    assert default_experiment_name(folder) == "Digits-Classifier"
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "b.py").write_text("print(1)\n")
    (plain / "a.py").write_text("print(2)\n")
    assert find_scripts(plain) == ["a.py", "b.py"]  # no guard anywhere: every top-level script


def test_scan_finds_environment_files_and_job_yamls(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    (folder / "requirements.txt").write_text("# nothing to install\n\n")
    (folder / "environment.yml").write_text(
        "name: digits\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip:\n    - requests\n")
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (folder / "envs").mkdir()
    (folder / "envs" / "env.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: digits-env\npip_requirements: ../requirements.txt\n")
    (folder / "jobs").mkdir()
    (folder / "jobs" / "train-job.yml").write_text(JOB)
    (folder / "jobs" / "broken.yaml").write_text("type: command\ncommand: python train.py\n  oops: [\n")
    (folder / "settings.yml").write_text("learning_rate: 0.1\n")  # neither a job nor an environment

    scan = scan_project(folder)
    found = {f.path: f for f in scan.environment_files}
    assert list(found) == ["environment.yml", "requirements.txt", "Dockerfile", "envs/env.yml"]
    assert found["requirements.txt"].spec.kind == "venv" and found["requirements.txt"].spec.pip_requirements == ()
    assert found["requirements.txt"].summary == "pip requirements: no packages, built with uv"
    assert found["environment.yml"].spec.kind == "conda"
    assert found["Dockerfile"].spec.build_context == str(folder.resolve())
    assert found["envs/env.yml"].kind == "environment" and found["envs/env.yml"].spec.name == "digits-env"

    jobs = {j.path: j for j in scan.job_files}
    assert list(jobs) == ["jobs/train-job.yml", "jobs/broken.yaml"]  # loadable ones first
    good = jobs["jobs/train-job.yml"].spec
    assert good.experiment_name == "from-yaml" and good.code_dir == folder.resolve()
    assert good.environment_variables == {"GREETING": "hi"}
    assert jobs["jobs/broken.yaml"].spec is None
    assert f"{folder.resolve() / 'jobs' / 'broken.yaml'}:3:" in jobs["jobs/broken.yaml"].error


def test_a_sweep_yaml_is_offered_and_described(tmp_path: Path) -> None:
    from engine.projects import describe_job

    folder = _project(tmp_path)
    (folder / "sweep.yml").write_text(
        "type: sweep\ntrial:\n  code: .\n  command: python train.py --lr ${{search_space.lr}}\n"
        "search_space:\n  lr: {type: choice, values: [0.1, 0.01]}\n"
        "objective: {goal: maximize, primary_metric: accuracy}\n"
        "limits: {max_total_trials: 6, max_concurrent_trials: 2, trial_timeout: 300}\n"
        "early_termination: {type: median_stopping}\n")
    (job,) = scan_project(folder).job_files
    assert job.path == "sweep.yml" and job.error is None
    rows = dict(describe_job(job.spec))
    assert rows["Sweep"] == "random sampling, maximize accuracy"
    assert rows["Search space"] == "lr choice(0.1, 0.01)"
    assert rows["Trials"] == "up to 6 trials, 2 at a time, 300 s each"
    assert rows["Early stop"] == "median stopping"
    assert rows["Command"] == "python train.py --lr ${{search_space.lr}}"


def test_script_job_checks_what_the_user_typed(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    (folder / "requirements.txt").write_text("")
    spec = script_job(folder, "train.py", experiment_name=" digits ", arguments=["--lr", "0.1"],
                      environment_file="requirements.txt", environment_variables=[("DATA_DIR", "/d"), ("", "")],
                      max_run_duration_seconds=90)
    assert spec.experiment_name == "digits" and spec.arguments == ("--lr", "0.1")
    assert spec.environment_spec is not None and spec.environment_spec.name == "digits-requirements.txt"
    assert spec.environment_variables == {"DATA_DIR": "/d"}
    assert spec.max_run_duration_seconds == 90
    assert script_job(folder, "train.py", experiment_name="e", environment="trainyard-python:1").environment \
        == "trainyard-python:1"
    with pytest.raises(InvalidSpec, match="not a valid experiment name"):
        script_job(folder, "train.py", experiment_name="bad name!")
    with pytest.raises(InvalidSpec, match="more than 0 seconds"):
        script_job(folder, "train.py", experiment_name="e", max_run_duration_seconds=0)
    with pytest.raises(InvalidSpec, match="'2FAST' is not a valid environment variable name"):
        check_environment_variables([("2FAST", "1")])
    with pytest.raises(InvalidSpec, match="set twice"):
        check_environment_variables([("A", "1"), ("A", "2")])
    with pytest.raises(InvalidSpec, match="has no variable name"):
        check_environment_variables([("", "orphan")])
