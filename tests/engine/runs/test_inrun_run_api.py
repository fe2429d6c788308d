"""The in-run `Run` (`Run.get_context()` inside the training script) has Azure ML's methods:
reading the run (get_metrics, get_file_names, download_file(s), get_details, input_datasets,
parent), child runs (child_run), register_model, and complete()/fail() that decide the run's
status. Real runs through the engine; the script reports what it saw in a file the test reads."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.sdk import Experiment, ScriptRunConfig, Workspace
from engine.specs.jobs import load_job

READS = """
import json, os, sys
from azureml.core import Run

run = Run.get_context()
for v in (0.5, 0.25, 0.125):
    run.log("loss", v)
run.log("accuracy", 0.9)
run.log_row("per_epoch", epoch=1, acc=0.5)
run.log_row("per_epoch", epoch=2, acc=0.75)
run.log_list("sizes", [1, 2, 3])
os.makedirs("outputs", exist_ok=True)
os.makedirs("logs", exist_ok=True)
with open("outputs/model.pt", "w") as f:
    f.write("weights v1")
with open("logs/notes.txt", "w") as f:
    f.write("epoch 1 done")
with open("summary.txt", "w") as f:
    f.write("a summary")
run.upload_file("reports/summary.txt", "summary.txt")

seen = {
    "metrics": run.get_metrics(),
    "loss_only": run.get_metrics(name="loss"),
    "files": run.get_file_names(),
    "details": run.get_details(),
    "inputs": run.input_datasets,
    "parent": None if run.parent is None else run.parent.id,
}
run.download_file("outputs/model.pt", output_file_path="copies/")
run.download_files(prefix="reports", output_directory="all")
run.download_files(prefix="reports/", output_directory="flat", append_prefix=False)
seen["downloaded"] = sorted(os.path.join(d, f).replace(os.sep, "/") for top in ("copies", "all", "flat")
                            for d, _, fs in os.walk(top) for f in fs)
try:
    run.download_file("outputs/missing.bin")
except FileNotFoundError as exc:
    seen["missing"] = str(exc)

model = run.register_model(model_name="birds", model_path="outputs/model.pt", tags={"data": "v2"},
                           properties={"accuracy": 0.9}, description="the bird classifier")
seen["model"] = [model.name, model.path, model.version]

fold = run.child_run("fold-1")
fold.log("fold_accuracy", 0.8)
seen["child"] = [fold.id, fold.parent is run]
fold.complete()
bad = run.child_run("fold-2")
bad.fail(ValueError("fold 2 has no rows"))

with open("outputs/seen.json", "w") as f:
    json.dump(seen, f)
"""


def write(folder: Path, script: str, job: str | None = None) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "train.py").write_text(textwrap.dedent(script))
    if job is not None:
        (folder / "job.yml").write_text(textwrap.dedent(job).lstrip())
    return folder


def seen_by_script(run: Any) -> dict[str, Any]:
    return json.loads((Path(run.run_dir) / "outputs" / "seen.json").read_text())


def test_a_script_reads_its_run_registers_a_model_and_makes_child_runs(eng: Engine, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "proj",
        READS,
        """
        command: python train.py
        code: src
        compute: local
        inputs:
          epochs: 3
        """,
    )
    final = eng.wait(eng.submit(load_job(folder / "job.yml")).name, timeout=120)
    assert final.status == "Completed", final.error
    seen = seen_by_script(final)
    assert seen["metrics"] == {
        "loss": [0.5, 0.25, 0.125],
        "accuracy": 0.9,
        "per_epoch": {"epoch": [1, 2], "acc": [0.5, 0.75]},
        "sizes": [1, 2, 3],
    }
    assert seen["loss_only"] == {"loss": [0.5, 0.25, 0.125]}
    # The script's live ./outputs and ./logs, its upload, and the run's driver log.
    assert {
        "outputs/model.pt",
        "logs/notes.txt",
        "reports/summary.txt",
        "azureml-logs/70_driver_log.txt",
    } <= set(seen["files"])
    assert not any(f.startswith(("wd/", "tracking/", "spec.json")) for f in seen["files"])
    details = seen["details"]
    assert (details["runId"], details["target"], details["status"]) == (final.name, "local", "Running")
    assert "azureml-logs/70_driver_log.txt" in details["logFiles"]
    assert seen["inputs"] == {"epochs": 3} and seen["parent"] is None
    assert seen["downloaded"] == ["all/reports/summary.txt", "copies/model.pt", "flat/summary.txt"]
    assert seen["missing"].startswith("run.download_file('outputs/missing.bin'): the run has no such file")
    assert seen["model"] == ["birds", "outputs/model.pt", None]

    # The engine registered the model from the run, with the tags and properties.
    (model,) = eng.list_models("birds")
    assert model.version == 1 and model.run_name == final.name
    assert model.tags == {"data": "v2", "accuracy": "0.9"} and model.description == "the bird classifier"
    assert Path(model.path).read_text() == "weights v1"

    children = {c.display_name: c for c in eng.children(final.name)}
    assert seen["child"] == [children["fold-1"].name, True]
    assert children["fold-1"].status == "Completed"
    assert eng.metric_history(children["fold-1"].name, "fold_accuracy").values.tolist() == [0.8]
    assert children["fold-2"].status == "Failed"
    assert children["fold-2"].error == "ValueError: fold 2 has no rows"


def test_run_fail_fails_the_run_even_when_the_script_exits_well(eng: Engine, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "proj",
        """
        from azureml.core import Run
        run = Run.get_context()
        run.log("rows", 0)
        run.fail(error_details="no training rows after filtering", error_code="EmptyData")
        print("exiting normally")
        """,
        "command: python train.py\ncode: src\n",
    )
    final = eng.wait(eng.submit(load_job(folder / "job.yml")).name, timeout=60)
    assert final.status == "Failed" and final.exit_code == 0
    assert final.error == "[EmptyData] no training rows after filtering"


def test_run_complete_completes_but_a_later_crash_still_fails(eng: Engine, tmp_path: Path) -> None:
    good = write(
        tmp_path / "good",
        """
        from azureml.core import Run
        Run.get_context().complete()
        """,
        "command: python train.py\ncode: src\n",
    )
    crash = write(
        tmp_path / "crash",
        """
        import sys
        from azureml.core import Run
        Run.get_context().complete()
        sys.exit("crashed after complete()")
        """,
        "command: python train.py\ncode: src\n",
    )
    assert eng.wait(eng.submit(load_job(good / "job.yml")).name, timeout=60).status == "Completed"
    final = eng.wait(eng.submit(load_job(crash / "job.yml")).name, timeout=60)
    assert (
        final.status == "Failed" and final.error == "the script exited with code 1: crashed after complete()"
    )


def test_a_child_run_started_by_the_engine_knows_its_parent(eng: Engine, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "proj",
        """
        import json, os
        from azureml.core import Run
        parent = Run.get_context().parent
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/seen.json", "w") as f:
            json.dump({"parent": None if parent is None else [parent.id, str(parent.experiment)]}, f)
        """,
    )
    first = eng.wait(
        eng.submit(JobSpec(experiment_name="fam", code_dir=folder / "src", script="train.py")).name,
        timeout=60,
    )
    child = eng.wait(
        eng.submit(
            JobSpec(experiment_name="fam", code_dir=folder / "src", script="train.py", parent_run=first.name)
        ).name,
        timeout=60,
    )
    assert seen_by_script(first)["parent"] is None
    assert seen_by_script(child)["parent"] == [first.name, "fam"]


def test_the_control_script_registers_and_downloads_after_the_run(eng: Engine, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "proj",
        """
        import os
        from azureml.core import Run
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/model.pt", "w") as f:
            f.write("trained")
        Run.get_context().log_row("table", a=1)
        """,
    )
    run = Experiment(Workspace(engine=eng), "control").submit(
        ScriptRunConfig(source_directory=str(folder / "src"), script="train.py")
    )
    run.wait_for_completion()
    model = run.register_model(model_name="pytorch-birds", model_path="outputs/model.pt")
    assert (model.name, model.version) == ("pytorch-birds", 1)
    (tmp_path / "model").mkdir()
    run.download_file(name="outputs/model.pt", output_file_path=str(tmp_path / "model" / "model.pt"))
    assert (tmp_path / "model" / "model.pt").read_text() == "trained"
    assert "outputs/model.pt" in run.get_file_names()
    # The same shapes as inside the run (Azure's): rows merged into columns.
    assert run.get_metrics() == {"table": {"a": [1]}}
