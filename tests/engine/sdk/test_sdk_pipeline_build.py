"""Pipelines built in Python give the mapping the same pipeline written as YAML gives: SDK v2's
`command` / `@pipeline` (`from trainyard import ...`) and SDK v1's `Pipeline` / `PythonScriptStep`
/ `PipelineData`. What a user gets wrong is an InvalidSpec that names the step and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidSpec
from engine.sdk import (
    CommandStep,
    Environment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
    RunConfiguration,
)
from trainyard import Input, Output, command, pipeline


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def taxi_commands() -> tuple[object, object, object]:
    prep = command(
        code="src",
        command="python prep.py --raw ${{inputs.raw}} --out ${{outputs.clean}}",
        inputs={"raw": Input(type="uri_folder")},
        outputs={"clean": Output()},
        environment="azureml:taxi-env@latest",
    )
    train = command(
        code="src",
        command="python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} "
        "--model ${{outputs.model}} --test ${{outputs.test}}",
        inputs={"data": Input(type="uri_folder"), "lr": 0.1},
        outputs={"model": Output(), "test": Output()},
    )
    score = command(
        code="src",
        command="python score.py --model ${{inputs.model}} --test ${{inputs.test}}",
        inputs={"model": Input(), "test": Input()},
        is_deterministic=False,
    )
    return prep, train, score


def test_a_v2_pipeline_is_the_yaml_mapping_with_steps_named_after_their_variables(project: Path) -> None:
    prep, train, score = taxi_commands()

    @pipeline(default_compute="local", experiment_name="taxi")
    def taxi(raw_data: Input, learning_rate: float = 0.5) -> dict[str, object]:
        """Prepare, train and score."""
        cleaned = prep(raw=raw_data)
        trained = train(data=cleaned.outputs.clean, lr=learning_rate)
        trained.compute = "docker"
        score(model=trained.outputs.model, test=trained.outputs.test)
        return {"model": trained.outputs.model}

    doc = taxi(raw_data=Input(type="uri_folder", path="data")).to_dict()
    src = str(project / "src")
    assert doc["type"] == "pipeline" and doc["experiment_name"] == "taxi"
    assert doc["description"] == "Prepare, train and score."
    assert doc["settings"] == {"default_compute": "local"}
    assert doc["inputs"] == {
        "raw_data": {"type": "uri_folder", "path": str(project / "data")},
        "learning_rate": 0.5,
    }
    assert doc["outputs"] == {"model": {"type": "uri_folder"}}
    assert list(doc["jobs"]) == [
        "cleaned",
        "trained",
        "score",
    ]  # the last one is not assigned: its command's name
    cleaned, trained, scored = doc["jobs"].values()
    assert cleaned == {
        "type": "command",
        "code": src,
        "command": "python prep.py --raw ${{inputs.raw}} --out ${{outputs.clean}}",
        "environment": "azureml:taxi-env@latest",
        "inputs": {"raw": "${{parent.inputs.raw_data}}"},
        "outputs": {"clean": {"type": "uri_folder"}},
    }
    assert trained["compute"] == "docker"
    assert trained["inputs"] == {
        "data": "${{parent.jobs.cleaned.outputs.clean}}",
        "lr": "${{parent.inputs.learning_rate}}",
    }
    assert trained["outputs"] == {"model": "${{parent.outputs.model}}", "test": {"type": "uri_folder"}}
    assert scored["inputs"] == {
        "model": "${{parent.jobs.trained.outputs.model}}",
        "test": "${{parent.jobs.trained.outputs.test}}",
    }
    assert scored["is_deterministic"] is False


def test_two_uses_of_one_command_get_distinct_names(project: Path) -> None:
    prep, _train, _score = taxi_commands()

    @pipeline
    def twice() -> None:
        prep(raw=Input(path="data"))
        prep(raw=Input(path="data"))

    job = twice()
    assert list(job.to_dict()["jobs"]) == ["prep", "prep_2"]
    assert job.display_name == "twice"


def test_v2_mistakes_name_the_step_and_what_to_do(project: Path) -> None:
    prep, train, _score = taxi_commands()

    with pytest.raises(InvalidSpec) as err:
        prep(rows=3)
    assert "has no input 'rows'" in err.value.message and "raw" in (err.value.hint or "")

    @pipeline
    def missing() -> None:
        train_step = train()  # data is not given
        assert train_step is not None

    with pytest.raises(InvalidSpec) as err:
        missing().to_dict()
    assert err.value.message == "step 'train_step': input 'data' is not given"
    assert "train_step(data=...)" in (err.value.hint or "")

    @pipeline
    def wrong_output() -> None:
        p = prep(raw=Input(path="data"))
        train(data=p.outputs.cleaned)

    with pytest.raises(InvalidSpec) as err:
        wrong_output()
    assert "has no output 'cleaned'" in err.value.message and "clean" in (err.value.hint or "")

    @pipeline
    def inner() -> None:
        prep(raw=Input(path="data"))

    @pipeline
    def outer() -> None:
        inner()

    with pytest.raises(InvalidSpec) as err:
        outer()
    assert "nested pipelines are not supported" in (err.value.hint or "")

    with pytest.raises(InvalidSpec) as err:
        command(code="src")
    assert "needs command=" in err.value.message


def test_a_v1_pipeline_wires_pipelinedata_into_the_arguments(project: Path) -> None:
    prepared = PipelineData("prepared")
    model = OutputFileDatasetConfig(name="model")
    rate = PipelineParameter("learning_rate", default_value=0.01)
    prep = PythonScriptStep(
        "prep.py",
        name="prep data",
        source_directory="src",
        arguments=["--out", prepared, "--rows", 100],
        outputs=[prepared],
        compute_target="local",
    )
    train = PythonScriptStep(
        "train.py",
        name="train",
        source_directory="src",
        arguments=["--data", prepared.as_input("train_data"), "--lr", rate, "--model", model],
        outputs=[model],
        allow_reuse=False,
    )
    report = CommandStep(
        command="python report.py",
        name="report",
        source_directory="src",
        inputs=[model.read_delimited_files()],
    )
    # Only the last step is listed: the steps whose data it reads are added, as Azure ML does.
    pipe = Pipeline(workspace=None, steps=[report], description="taxi v1")
    assert pipe.all_steps() == [report, train, prep]
    doc = pipe.to_dict("taxi")
    assert doc["experiment_name"] == "taxi" and doc["description"] == "taxi v1"
    assert doc["inputs"] == {"learning_rate": 0.01}
    jobs = doc["jobs"]
    assert set(jobs) == {"prep_data", "train", "report"}
    assert jobs["prep_data"]["display_name"] == "prep data"
    assert jobs["prep_data"]["command"] == "python prep.py --out ${{outputs.prepared}} --rows 100"
    assert jobs["prep_data"]["outputs"] == {"prepared": {"type": "uri_folder"}}
    assert jobs["prep_data"]["compute"] == "local"
    assert jobs["train"]["command"] == (
        "python train.py --data ${{inputs.train_data}} --lr "
        "${{inputs.learning_rate}} --model ${{outputs.model}}"
    )
    assert jobs["train"]["inputs"] == {
        "train_data": "${{parent.jobs.prep_data.outputs.prepared}}",
        "learning_rate": "${{parent.inputs.learning_rate}}",
    }
    assert jobs["train"]["is_deterministic"] is False
    assert jobs["report"]["command"] == "python report.py"
    assert jobs["report"]["inputs"] == {"model": "${{parent.jobs.train.outputs.model}}"}
    assert jobs["report"]["code"] == str(project / "src")


def test_a_v1_step_environment_is_registered_and_named(project: Path, ws: object) -> None:
    (project / "src" / "requirements.txt").write_text("six\n")
    env = Environment.from_pip_requirements("taxi-env", str(project / "src" / "requirements.txt"))
    rc = RunConfiguration()
    rc.environment = env
    out = PipelineData("out")
    step = PythonScriptStep("prep.py", source_directory="src", runconfig=rc, arguments=[out], outputs=[out])
    first = Pipeline(ws, [step]).to_dict()["jobs"]["prep"]["environment"]
    assert first == "azureml:taxi-env:1"
    assert Pipeline(ws, [step]).to_dict()["jobs"]["prep"]["environment"] == first  # unchanged: same version


def test_v1_mistakes_name_the_step(project: Path) -> None:
    orphan = PipelineData("orphan")
    reader = PythonScriptStep("train.py", name="train", arguments=[orphan], source_directory="src")
    with pytest.raises(InvalidSpec) as err:
        Pipeline(None, [reader]).to_dict()
    assert "step 'train' reads PipelineData(name='orphan'), which no step writes" == err.value.message
    with pytest.raises(InvalidSpec) as err:
        reader.run_after(reader)
    assert "pass data from that step" in (err.value.hint or "")
    out = PipelineData("x")
    PythonScriptStep("a.py", name="a", outputs=[out])
    with pytest.raises(InvalidSpec) as err:
        PythonScriptStep("b.py", name="b", outputs=[out])
    assert "is the output of two steps ('a' and 'b')" in err.value.message
    with pytest.raises(InvalidSpec):
        Pipeline(None, [])
