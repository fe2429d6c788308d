"""Locks through jobs and the real `trainyard` CLI: a run records its environment's lock
(`job show -o json`, `environment lock`); after the index gains a newer version a new run gets it
and `job diff` names the package; `job create --rerun` rebuilds the first run's exact set from its
lock (or refuses, naming the package, when the index lost it); `environment create --from-run`
registers the locked environment."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from wheels import make_wheel

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles

CLI = [sys.executable, "-m", "engine.cli.main"]


def trainyard(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(ws)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def as_json(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture
def eng(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = Engine.open(tmp_path / "ws")
    yield e
    e.close()


def finished(eng: Engine, name: str) -> RunFiles:
    final = eng.wait(name, timeout=240)
    files = RunFiles(Path(final.run_dir))
    log = files.driver_log.read_text() if files.driver_log.exists() else ""
    assert final.status == "Completed", (final.error, log)
    return files


def test_rerun_from_the_lock_gets_the_first_set_and_diff_names_the_change(
    eng: Engine, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    index = tmp_path / "index"
    sha = hashlib.sha256(make_wheel(index, "tinypkg", "1.0").read_bytes()).hexdigest()
    eng.register_environment(
        EnvironmentSpec(name="tiny", pip_requirements=("--no-index", f"--find-links {index}", "tinypkg"))
    )
    code = tmp_path / "p"
    code.mkdir()
    (code / "main.py").write_text(
        textwrap.dedent("""
        import sys, tinypkg
        print("tinypkg", tinypkg.__version__, "lr", sys.argv[1])
    """)
    )

    def submit(lr: str) -> str:
        return eng.submit(
            JobSpec(
                experiment_name="locks", code_dir=code, script="main.py", arguments=(lr,), environment="tiny"
            )
        ).name

    run1 = submit("0.1")
    assert "tinypkg 1.0" in finished(eng, run1).driver_log.read_text()
    shown = as_json(trainyard(ws, "job", "show", "-n", run1, "-o", "json"))
    lock1 = shown["environment_lock"]
    assert (
        lock1["kind"] == "venv"
        and {"name": "tinypkg", "version": "1.0"}.items()
        <= next(p for p in lock1["packages"] if p["name"] == "tinypkg").items()
    )
    assert shown["properties"]["environment_lock"] == lock1["id"]
    printed = trainyard(ws, "environment", "lock", "-n", "tiny")
    assert printed.returncode == 0  # a requirements file: what --require-hashes installs
    assert printed.stdout.splitlines() == ["tinypkg==1.0 \\", f"    --hash=sha256:{sha}"]

    make_wheel(index, "tinypkg", "1.1")  # a newer version appears; a fresh build of the spec gets it
    eng.prune_environments()
    run2 = submit("0.2")
    assert "tinypkg 1.1" in finished(eng, run2).driver_log.read_text()

    diff = as_json(trainyard(ws, "job", "diff", run1, run2, "-o", "json"))
    assert diff["environment"]["packages"] == [
        {"name": "tinypkg", "change": "changed", "old": "1.0", "new": "1.1"}
    ]
    assert {"section": "command", "key": "arguments", "a": ["0.1"], "b": ["0.2"]} in diff["differences"]
    human = trainyard(ws, "job", "diff", run1, run2)
    assert human.returncode == 0 and "~ tinypkg 1.0 -> 1.1" in human.stdout
    assert human.stdout.index("tinypkg") < human.stdout.index("arguments")  # packages first

    rerun = as_json(trainyard(ws, "job", "create", "--rerun", run1, "-o", "json"))
    files3 = finished(eng, rerun["name"])
    assert "tinypkg 1.0 lr 0.1" in files3.driver_log.read_text()  # the lock, not the spec's 1.1
    assert eng.get_run(rerun["name"]).properties["rerun_from_lock"] == lock1["id"]
    same = as_json(trainyard(ws, "job", "diff", run1, rerun["name"], "-o", "json"))
    assert same["environment"]["packages"] == [] and same["environment"]["lock_b"] == lock1["id"]

    registered = as_json(trainyard(ws, "environment", "create", "--from-run", run1, "-o", "json"))
    assert registered["name"] == "tiny-locked"
    assert f"tinypkg==1.0 --hash=sha256:{sha}" in registered["pip_requirements"]

    # 1.0 leaves the index: the re-run is refused before anything is recorded, and says why.
    (index / "tinypkg-1.0-py3-none-any.whl").unlink()
    before = len(eng.list_runs())
    refused = trainyard(ws, "job", "create", "--rerun", run1)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "cannot be re-run from its environment lock" in refused.stderr and "tinypkg" in refused.stderr
    assert "~ tinypkg 1.0 -> 1.1" in refused.stderr and "--from-spec" in refused.stderr
    assert len(eng.list_runs()) == before
    from_spec = as_json(trainyard(ws, "job", "create", "--rerun", run1, "--from-spec", "-o", "json"))
    assert "tinypkg 1.1 lr 0.1" in finished(eng, from_spec["name"]).driver_log.read_text()


def test_a_run_without_a_built_environment_records_its_interpreters_packages(
    eng: Engine, tmp_path: Path
) -> None:
    code = tmp_path / "p"
    code.mkdir()
    (code / "main.py").write_text("print('hi')\n")
    name = eng.submit(JobSpec(experiment_name="locks", code_dir=code, script="main.py")).name
    finished(eng, name)
    lock = eng.run_lock(name)
    assert lock is not None and lock.kind == "user"
    assert "click" in {p.name.lower() for p in lock.packages}  # Trainyard's own interpreter's packages
    assert eng.get_run(name).properties["environment_lock"] == lock.id


def test_lock_commands_explain_what_is_missing(eng: Engine, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    eng.register_environment(EnvironmentSpec(name="never-built", pip_requirements=("six",)))
    res = trainyard(ws, "environment", "lock", "-n", "never-built")
    assert (
        res.returncode != 0 and "not built in this workspace" in res.stderr and "Traceback" not in res.stderr
    )
    res = trainyard(ws, "job", "create")
    assert res.returncode != 0 and "--rerun" in res.stderr


def test_sweep_trials_share_their_builds_lock(eng: Engine, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    index = tmp_path / "index"
    make_wheel(index, "tinypkg", "1.0")
    eng.register_environment(
        EnvironmentSpec(name="tiny", pip_requirements=("--no-index", f"--find-links {index}", "tinypkg"))
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text(
        "import sys, tinypkg\nfrom azureml.core import Run\nRun.get_context().log('acc', float(sys.argv[2]))\n"
    )
    job = tmp_path / "sweep.yml"
    job.write_text(
        textwrap.dedent("""
        type: sweep
        experiment_name: locks-sweep
        trial:
          code: ./src
          command: python main.py --lr ${{search_space.lr}}
          environment: azureml:tiny@latest
        compute: local
        sampling_algorithm: grid
        search_space:
          lr: {type: choice, values: [0.1, 0.2]}
        objective: {goal: maximize, primary_metric: acc}
        limits: {max_total_trials: 2, max_concurrent_trials: 2}
        """)
    )
    sweep = as_json(trainyard(ws, "job", "create", "-f", str(job), "-o", "json"))["name"]
    final = eng.wait(sweep, timeout=300)
    trials = eng.children(sweep)
    assert len(trials) == 2, (final.status, final.error)
    locks = [eng.run_lock(t.name) for t in trials]
    assert all(lk is not None for lk in locks)
    built = eng.environment_lock("tiny")
    assert {lk.id for lk in locks if lk is not None} == {built.id}
    assert {t.properties.get("environment_lock") for t in eng.children(sweep)} == {built.id}


def test_pipeline_steps_of_one_environment_share_its_lock_and_another_has_its_own(eng: Engine, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    index = tmp_path / "index"
    make_wheel(index, "tinypkg", "1.0")
    make_wheel(index, "otherpkg", "2.0")
    for name, pkg in (("tiny", "tinypkg"), ("other", "otherpkg")):
        eng.register_environment(
            EnvironmentSpec(name=name, pip_requirements=("--no-index", f"--find-links {index}", pkg))
        )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "show.py").write_text("import sys, importlib\nprint(importlib.import_module(sys.argv[1]).__name__)\n")
    job = tmp_path / "pipeline.yml"
    job.write_text(
        textwrap.dedent("""
        type: pipeline
        experiment_name: locks-pipeline
        settings: {default_compute: local}
        jobs:
          first:
            code: ./src
            command: python show.py tinypkg
            environment: azureml:tiny@latest
          second:
            code: ./src
            command: python show.py tinypkg
            environment: azureml:tiny@latest
          third:
            code: ./src
            command: python show.py otherpkg
            environment: azureml:other@latest
        """)
    )
    pipeline = as_json(trainyard(ws, "job", "create", "-f", str(job), "-o", "json"))["name"]
    final = eng.wait(pipeline, timeout=300)
    steps = {s.display_name: s for s in eng.children(pipeline)}
    assert final.status == "Completed", (final.error, {n: s.error for n, s in steps.items()})
    locks = {n: eng.run_lock(s.name) for n, s in steps.items()}
    tiny, other = eng.environment_lock("tiny"), eng.environment_lock("other")
    assert locks["first"] is not None and locks["first"].id == locks["second"].id == tiny.id  # type: ignore[union-attr]
    assert locks["third"] is not None and locks["third"].id == other.id != tiny.id
    assert {p.name for p in locks["third"].packages} >= {"otherpkg"}
    shown = as_json(trainyard(ws, "job", "show", "-n", steps["second"].name, "-o", "json"))
    assert shown["properties"]["environment_lock"] == tiny.id
