"""Pipeline job YAML -> PipelineSpec: steps (inline, from a component file), bindings and the
edges they make, settings; and the refusals a user reads (file, line, the step and what to do)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidSpec
from engine.jobs.pipeline import Binding
from engine.jobs.spec import DataInput
from engine.specs.pipeline import load_pipeline, load_pipeline_file


def project(tmp_path: Path, pipeline: str, component: str | None = None) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "step.py").write_text("print('hi')\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a\n1\n")
    if component is not None:
        (tmp_path / "train.yml").write_text(component)
    path = tmp_path / "pipeline.yml"
    path.write_text(pipeline)
    return path


TRAIN_COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: train_model
type: command
inputs:
  data: {type: uri_folder}
  epochs: {type: integer, default: 3}
  solver: {type: string, default: lbfgs, enum: [lbfgs, sgd]}
outputs:
  model: {type: uri_folder}
code: ./src
command: python step.py ${{inputs.data}} ${{inputs.epochs}} ${{inputs.solver}} ${{outputs.model}}
"""

PIPELINE = """\
type: pipeline
experiment_name: taxi
inputs:
  raw: {type: uri_folder, path: ./data}
  rate: 0.5
outputs:
  final: {type: uri_folder}
settings:
  default_compute: local
  continue_on_step_failure: false
jobs:
  prep:
    command: python step.py ${{inputs.raw}} ${{outputs.clean}}
    code: ./src
    inputs:
      raw: ${{parent.inputs.raw}}
    outputs:
      clean: {type: uri_folder}
  train:
    type: command
    component: ./train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      solver: sgd
    outputs:
      model: ${{parent.outputs.final}}
  score:
    command: python step.py ${{inputs.model}} ${{inputs.data}} ${{inputs.rate}}
    code: ./src
    inputs:
      model: {type: uri_folder, path: "${{parent.jobs.train.outputs.model}}", mode: download}
      data: ${{parent.jobs.prep.outputs.clean}}
      rate: ${{parent.inputs.rate}}
"""


def test_a_pipeline_reads_with_its_steps_bindings_and_edges(tmp_path: Path) -> None:
    spec = load_pipeline_file(project(tmp_path, PIPELINE, TRAIN_COMPONENT))
    assert list(spec.steps) == ["prep", "train", "score"]
    assert spec.experiment_name == "taxi"
    assert spec.settings.default_compute == "local" and spec.settings.continue_on_step_failure is False
    assert isinstance(spec.inputs["raw"], DataInput) and spec.inputs["rate"] == 0.5
    assert spec.edges() == [
        ("prep", "clean", "score", "data"),
        ("prep", "clean", "train", "data"),
        ("train", "model", "score", "model"),
    ]
    train = spec.steps["train"]
    # the component's command, code and defaults; the step's own values win
    assert train.command is not None and "step.py" in train.command
    assert train.code_dir == (tmp_path / "src").resolve()
    assert train.inputs["epochs"] == 3 and train.inputs["solver"] == "sgd"
    assert train.inputs["data"] == Binding("step_output", "clean", step="prep", type="uri_folder")
    assert train.to_parent == {"model": "final"}
    score = spec.steps["score"]
    assert score.inputs["model"].mode == "download"
    assert score.inputs["rate"] == Binding("parent_input", "rate")
    assert spec.order() == ["prep", "train", "score"]


def test_the_same_mapping_loads_without_a_file(tmp_path: Path) -> None:
    from engine.specs import yamlfile

    project(tmp_path, PIPELINE, TRAIN_COMPONENT)
    spec = load_pipeline(yamlfile.load(PIPELINE), tmp_path)
    assert spec.steps["train"].component_spec is not None and spec.source_file is None


@pytest.mark.parametrize("kind", ["parallel", "spark", "automl", "pipeline"])
def test_other_step_types_are_refused_naming_the_step_and_line(tmp_path: Path, kind: str) -> None:
    text = PIPELINE.replace("  score:\n    command:", f"  score:\n    type: {kind}\n    command:")
    path = project(tmp_path, text, TRAIN_COMPONENT)
    with pytest.raises(InvalidSpec) as info:
        load_pipeline_file(path)
    err = info.value
    assert err.line == text.splitlines().index(f"    type: {kind}") + 1
    assert f"step 'score' is a {kind} step" in err.message and err.field == "jobs.score.type"
    assert err.hint


@pytest.mark.parametrize(
    ("change", "words", "line_of"),
    [
        (
            (
                "${{parent.jobs.prep.outputs.clean}}\n      solver",
                "${{parent.jobs.prepp.outputs.clean}}\n      solver",
            ),
            "there is no step 'prepp'",
            "      data: ${{parent.jobs.prepp.outputs.clean}}",
        ),
        (
            (
                "${{parent.jobs.prep.outputs.clean}}\n      solver",
                "${{parent.jobs.prep.outputs.nope}}\n      solver",
            ),
            "step 'prep' has no output 'nope'",
            "      data: ${{parent.jobs.prep.outputs.nope}}",
        ),
        (
            ("rate: ${{parent.inputs.rate}}", "rate: ${{parent.inputs.speed}}"),
            "the pipeline has no input 'speed'",
            "      rate: ${{parent.inputs.speed}}",
        ),
        (("solver: sgd", "solver: adam"), "not one of ['lbfgs', 'sgd']", "      solver: adam"),
        (("solver: sgd", "solvr: sgd"), "does not declare", "      solvr: sgd"),
        (
            (
                "    code: ./src\n    inputs:\n      raw",
                "    code: ./src\n    enviroment: x\n    inputs:\n      raw",
            ),
            "unknown key 'enviroment'",
            "    enviroment: x",
        ),
    ],
)
def test_binding_and_step_mistakes_name_the_step_line_and_fix(
    tmp_path: Path, change: tuple[str, str], words: str, line_of: str
) -> None:
    text = PIPELINE.replace(*change, 1)
    assert text != PIPELINE
    with pytest.raises(InvalidSpec) as info:
        load_pipeline_file(project(tmp_path, text, TRAIN_COMPONENT))
    err = info.value
    assert words in err.message, err.message
    assert err.file == str(tmp_path / "pipeline.yml")
    assert err.line == text.splitlines().index(line_of) + 1, (err.line, err.message)
    assert err.hint


def test_a_cycle_is_refused(tmp_path: Path) -> None:
    text = PIPELINE.replace(
        "    inputs:\n      raw: ${{parent.inputs.raw}}",
        "    inputs:\n      raw: ${{parent.jobs.score.outputs.out}}",
    ).replace(
        "      rate: ${{parent.inputs.rate}}\n",
        "      rate: ${{parent.inputs.rate}}\n    outputs:\n      out:\n",
    )
    text = text.replace("${{inputs.rate}}\n", "${{inputs.rate}} ${{outputs.out}}\n")
    with pytest.raises(InvalidSpec, match="cycle"):
        load_pipeline_file(project(tmp_path, text, TRAIN_COMPONENT))
