"""Pipelines from Python, run for real (`trainyard python`, real step processes): the shipped
example written with `from trainyard import command, pipeline` runs the same steps as its
pipeline.yml (a YAML resubmission reuses every step the SDK ran), and an SDK v1 control script's
Pipeline of PythonScriptSteps runs its steps as child runs of a PipelineRun."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sdk_support import SCRIPTS, trainyard

from engine.api import Engine

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "resources" / "examples" / "fares-pipeline"


def test_the_sdk_v2_example_runs_and_its_yaml_twin_reuses_every_step(tmp_path: Path, ws_dir: Path) -> None:
    folder = tmp_path / "fares"
    shutil.copytree(EXAMPLE, folder)
    res = trainyard("python", str(folder / "pipeline.py"), cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    sdk_run = lines[0].removeprefix("submitted ")
    assert lines[1].startswith("prep Completed {'rows_kept': 54")
    assert lines[2].startswith("train Completed {'base': ")
    assert lines[3].startswith("score the model Completed {'rmse': ")

    eng = Engine.open(ws_dir)
    try:
        graph = eng.pipeline_graph(sdk_run)
        assert [s.name for s in graph.steps] == ["prep", "train", "score"]
        assert sorted(graph.edges) == [
            ("prep", "clean", "score", "data"),
            ("prep", "clean", "train", "data"),
            ("train", "model", "score", "model"),
        ]
        assert {c.parent_name for c in eng.children(sdk_run)} == {sdk_run}

        res = trainyard(
            "job", "create", "-f", str(folder / "pipeline.yml"), "--stream", "-o", "json", timeout=300
        )
        assert res.returncode == 0, res.stdout + res.stderr
        yaml_run = json.loads(res.stdout)["name"]
        reused = {s.name: s.reused_from for s in eng.pipeline_graph(yaml_run).steps}
        assert reused == {s.name: s.run_name for s in graph.steps}  # the very steps the SDK ran
    finally:
        eng.close()


def test_an_sdk_v1_pipeline_runs_its_steps_as_child_runs(tmp_path: Path, ws_dir: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "fares")
    shutil.copy(SCRIPTS / "control_pipeline_v1.py", tmp_path)
    res = trainyard("python", "control_pipeline_v1.py", cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    result = json.loads(
        next(x for x in res.stdout.splitlines() if x.startswith("RESULT ")).removeprefix("RESULT ")
    )
    assert result["type"] == "PipelineRun" and result["status"] == "Completed"
    assert result["steps"] == [["prep trips", "Completed"], ["score", "Completed"], ["train", "Completed"]]
    assert result["parents"] == [result["id"]] and result["children"] == 3
    assert result["train_metrics"] == ["base", "per_km"]
    assert 0 < result["rmse"] < 5

    eng = Engine.open(ws_dir)
    try:
        graph = eng.pipeline_graph(result["id"])
        # a step's input is named as the step reads it: as_input("data"), else the data's own name
        assert sorted(graph.edges) == [
            ("prep_trips", "clean", "score", "clean"),
            ("prep_trips", "clean", "train", "data"),
            ("train", "model", "score", "model"),
        ]
    finally:
        eng.close()
