"""Engine.rerun (the same snapshot, command, arguments, env vars, experiment) and Engine.archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import InvalidState, NotFound
from engine.jobs.spec import JobSpec

TRAIN = """
import os, sys
from azureml.core import Run
run = Run.get_context()
print("version", open("version.txt").read().strip(), "args", sys.argv[1:], "env", os.environ.get("GREETING"))
for i in range(int(sys.argv[2])):
    run.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.bin", "w").write("m")
"""


def test_rerun_uses_the_recorded_snapshot_and_request(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": TRAIN, "version.txt": "one\n"})
    spec = JobSpec(experiment_name="again", code_dir=code, script="train.py", arguments=("--n", "7"),
                   environment_variables={"GREETING": "hi"}, tags={"team": "vision"},
                   max_run_duration_seconds=120)
    first = eng.wait(eng.submit(spec).name, timeout=60)
    assert first.status == "Completed"
    (code / "version.txt").write_text("two\n")  # the folder moved on; the re-run must not see it

    second = eng.rerun(first.name)
    assert second.name != first.name and second.status in ("Queued", "Preparing", "Starting", "Running")
    done = eng.wait(second.name, timeout=60)
    assert done.status == "Completed", done.error
    assert (done.experiment_name, done.snapshot_id, done.arguments, done.command, done.compute) == (
        first.experiment_name, first.snapshot_id, first.arguments, first.command, first.compute)
    assert done.max_run_duration_seconds == 120 and done.tags["team"] == "vision"
    assert done.properties["rerun_of"] == first.name
    log = (Path(done.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert "version one args ['--n', '7'] env hi" in log
    assert eng.metric_history(done.name, "loss").values.tolist() == eng.metric_history(first.name, "loss").values.tolist()
    assert len(eng.metric_history(done.name, "loss")) == 7
    spec_json = json.loads((Path(done.run_dir) / "spec.json").read_text())
    assert spec_json["run_name"] == done.name and spec_json["env"]["TRAINYARD_RUN_ID"] == done.name
    assert (Path(done.run_dir) / "outputs" / "model.bin").read_text() == "m"


def test_rerun_of_a_command_job(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": TRAIN, "version.txt": "cmd\n"})
    spec = JobSpec(experiment_name="cmd", code_dir=code, command="python train.py --n 3 && echo done")
    first = eng.wait(eng.submit(spec).name, timeout=60)
    again = eng.wait(eng.rerun(first.name).name, timeout=60)
    assert again.status == "Completed", again.error
    log = (Path(again.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert "version cmd" in log and "done" in log


def test_rerun_errors_say_why(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        eng.rerun("no_such_run")
    code = project({"train.py": TRAIN, "version.txt": "x\n"})
    run = eng.wait(eng.submit(JobSpec(experiment_name="e", code_dir=code, script="train.py",
                                      arguments=("--n", "1"))).name, timeout=60)
    (Path(run.run_dir) / "spec.json").unlink()
    with pytest.raises(InvalidState, match="launch record"):
        eng.rerun(run.name)


def test_archive_hides_a_run_and_keeps_it(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": TRAIN, "version.txt": "x\n"})
    run = eng.wait(eng.submit(JobSpec(experiment_name="e", code_dir=code, script="train.py",
                                      arguments=("--n", "2"))).name, timeout=60)
    assert eng.archive(run.name).name == run.name
    assert eng.store.query_runs() == [] and eng.store.count_runs(include_archived=False) == 0
    assert eng.get_run(run.name).status == "Completed" and Path(run.run_dir).is_dir()
    assert len(eng.metric_history(run.name, "loss")) == 2
    eng.archive(run.name, archived=False)
    assert [r.name for r in eng.store.query_runs()] == [run.name]
    with pytest.raises(NotFound):
        eng.archive("ghost")
