"""The Azure ML CLI v2 command-job YAML loader and the command renderer.

Errors are what a user reads: they must name the file, the line and the key, and say what to do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidSpec, NotFound, TrainyardError
from engine.jobs.command import referenced_names, render_command
from engine.jobs.spec import DataInput
from engine.specs.jobs import load_job

SEED_JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: src
command: >-
  python train.py --lr ${{inputs.lr}} --epochs ${{inputs.epochs}}
  --data ${{inputs.training_data}} --name ${{inputs.label}}
inputs:
  lr: 0.01
  epochs: 3
  label: first try
  training_data:
    type: uri_folder
    path: ./data
environment_variables:
  OMP_NUM_THREADS: 4
  USE_AMP: true
  MODE: fast
display_name: mnist-baseline
description: a seed-style job
tags:
  team: vision
compute: azureml:cpu-cluster
limits:
  timeout: 7200
"""


def write(folder: Path, text: str, name: str = "job.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A seed-like project folder `mnist-exp/` with src/train.py and data/."""
    root = tmp_path / "mnist-exp"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('hi')\n")
    (root / "data").mkdir()
    return root


def load_error(path: Path, overrides: list[str] | None = None) -> TrainyardError:
    with pytest.raises(TrainyardError) as info:
        load_job(path, overrides)
    return info.value


# --------------------------------------------------------------------------- valid jobs
def test_seed_style_command_job(project: Path) -> None:
    spec = load_job(write(project, SEED_JOB))
    assert spec.code_dir == (project / "src").resolve()
    assert spec.command is not None
    assert spec.command.startswith("python train.py --lr ${{inputs.lr}}")
    assert spec.script is None
    assert spec.inputs == {"lr": 0.01, "epochs": 3, "label": "first try"}
    # A folder input: resolved relative to the YAML, mounted read-only by default.
    assert spec.data_inputs == {"training_data": DataInput("uri_folder", str((project / "data").resolve()),
                                                           "ro_mount")}
    # environment variables reach the process as strings; booleans as lower-case words
    assert spec.environment_variables == {"OMP_NUM_THREADS": "4", "USE_AMP": "true", "MODE": "fast"}
    assert spec.experiment_name == "mnist-exp"  # default: the YAML's folder name
    assert spec.display_name == "mnist-baseline"
    assert spec.description == "a seed-style job"
    assert spec.tags == {"team": "vision"}
    assert spec.compute == "azureml:cpu-cluster"
    assert spec.max_run_duration_seconds == 7200.0
    assert spec.source_file == str(project / "job.yml")


def test_explicit_experiment_name_and_defaults(tmp_path: Path) -> None:
    spec = load_job(write(tmp_path / "jobs", "experiment_name: exp-1\ncommand: echo hi\n"))
    assert spec.experiment_name == "exp-1"
    assert spec.code_dir is None
    assert spec.compute == "local"
    assert spec.max_run_duration_seconds is None
    assert spec.inputs == {} and spec.environment_variables == {} and spec.tags == {}
    assert spec.display_name is None


def test_code_local_path_form(project: Path) -> None:
    spec = load_job(write(project, "code:\n  local_path: ./src\ncommand: python train.py\n"))
    assert spec.code_dir == (project / "src").resolve()


def test_literal_input_types_are_kept(project: Path) -> None:
    spec = load_job(write(project, """\
        command: echo
        inputs:
          a: 1
          b: 2.5
          c: true
          d: "007"
          e:
            type: integer
            default: 5
          f:
            type: uri_file
            path: https://example.com/data.csv
          g:
            type: uri_folder
            path: azureml:mnist@latest
        """))
    assert spec.inputs == {"a": 1, "b": 2.5, "c": True, "d": "007", "e": 5}
    # URLs and registered assets are resolved at submit (engine.data.resolve)
    assert spec.data_inputs == {"f": DataInput("uri_file", "https://example.com/data.csv"),
                                "g": DataInput("uri_folder", "azureml:mnist@latest")}
    assert type(spec.inputs["a"]) is int and type(spec.inputs["d"]) is str


def test_set_overrides_inputs_and_fields(project: Path) -> None:
    path = write(project, SEED_JOB)
    spec = load_job(path, ["inputs.lr=0.5", "inputs.label=second try", "display_name=tuned",
                           "limits.timeout=60", "inputs.new_flag=true"])
    assert spec.inputs["lr"] == 0.5 and isinstance(spec.inputs["lr"], float)
    assert spec.inputs["label"] == "second try"
    assert spec.inputs["new_flag"] is True
    assert spec.inputs["epochs"] == 3  # untouched
    assert spec.display_name == "tuned"
    assert spec.max_run_duration_seconds == 60.0
    assert load_job(path).inputs["lr"] == 0.01  # the file itself is unchanged


def test_set_override_without_equals_is_an_error(project: Path) -> None:
    err = load_error(write(project, SEED_JOB), ["inputs.lr"])
    assert isinstance(err, InvalidSpec)
    assert "inputs.lr" in err.message and "key=value" in err.message


def test_set_override_of_an_unknown_key_is_an_error(project: Path) -> None:
    err = load_error(write(project, SEED_JOB), ["comand=python x.py"])
    assert isinstance(err, InvalidSpec)
    assert "unknown key 'comand'" in err.message
    assert err.hint is not None and "command" in err.hint


# --------------------------------------------------------------------------- errors
def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "command: echo hi\ninputs:\n\tlr: 0.1\n")  # a tab cannot indent YAML
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.file == str(path) and err.line == 3
    assert err.message.startswith(f"{path}:3:")
    assert "malformed YAML" in err.message
    assert err.hint


def test_unclosed_quote_is_reported_with_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'display_name: ok\ncommand: "python train.py\n')
    err = load_error(path)
    assert isinstance(err, InvalidSpec) and err.file == str(path)
    assert err.line is not None and err.line >= 2
    assert "malformed YAML" in err.message


def test_unknown_top_level_key_names_file_line_key_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "display_name: x\ncommand: echo\nenviroment_variables:\n  A: 1\n")
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.message == f"{path}:3: unknown key 'enviroment_variables'"
    assert err.field == "enviroment_variables" and err.line == 3
    assert err.hint == "did you mean 'environment_variables'?"


def test_unknown_nested_key_names_its_full_path(project: Path) -> None:
    path = write(project, """\
        command: echo
        inputs:
          DATA:
            type: uri_folder
            pth: ./data
        """)
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.line == 5
    assert "unknown key 'inputs.DATA.pth'" in err.message
    assert err.hint == "did you mean 'path'?"


def test_unknown_key_far_from_any_known_lists_the_known_ones(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "command: echo\nlimits:\n  zzz: 1\n"))
    assert "unknown key 'limits.zzz'" in err.message and err.line == 3  # type: ignore[attr-defined]
    assert err.hint is not None and "timeout" in err.hint


@pytest.mark.parametrize(
    ("text", "line", "key", "expected"),
    [
        ("display_name: x\ncommand: 5\n", 2, "command", "expected a string, found int 5"),
        ("command: echo\ntags: 4\n", 2, "tags", "expected a mapping, found int 4"),
        ("command: echo\nlimits:\n  timeout: soon\n", 3, "limits.timeout", "expected a number"),
        ("command: echo\nenvironment_variables:\n  CUDA_VISIBLE_DEVICES: [0, 1]\n", 3,
         "environment_variables.CUDA_VISIBLE_DEVICES", "found list [0, 1]"),
        ("command: echo\ninputs:\n  d:\n    type: bogus\n", 4, "inputs.d.type", "uri_folder"),
        ("command: echo\ncode: 5\n", 2, "code", "expected a string or a mapping"),
    ],
)
def test_wrong_type_names_line_and_key(tmp_path: Path, text: str, line: int, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.line == line and err.field == key
    assert err.message.startswith(f"{path}:{line}: '{key}' has the wrong type")
    assert expected in err.message


def test_a_union_type_error_names_every_accepted_kind(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "command: echo\ninputs:\n  lr: [1, 2]\n"))
    assert "'inputs.lr' has the wrong type" in err.message
    for word in ("a string", "a number", "a mapping"):
        assert word in err.message


def test_a_number_for_a_string_suggests_quoting(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "command: echo\ndisplay_name: 2024\n"))
    assert err.hint == "quote the value to make it a string"


def test_missing_command(tmp_path: Path) -> None:
    path = write(tmp_path, "display_name: nothing to run\n")
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.message == f"{path}:1: the required key 'command' is missing"
    assert err.hint == "add `command:`"


def test_other_job_types_are_refused_clearly(tmp_path: Path) -> None:
    path = write(tmp_path, "display_name: s\ntype: automl\njobs: {}\n")
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.line == 2 and err.field == "type"
    assert "'automl' is not supported" in err.message and "(supported: command, sweep)" in err.message
    assert err.hint is not None and "write a command job" in err.hint


def test_a_sweep_without_its_required_keys_names_the_first_missing_one(tmp_path: Path) -> None:
    path = write(tmp_path, "display_name: s\ntype: sweep\ntrial:\n  command: echo\n")
    err = load_error(path)
    assert isinstance(err, InvalidSpec)
    assert err.message.endswith("the required key 'search_space' is missing") and err.line == 1


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "- python train.py\n"))
    assert isinstance(err, InvalidSpec) and "must be a YAML mapping" in err.message
    assert "must be a YAML mapping" in load_error(write(tmp_path, "", "empty.yml")).message


def test_a_key_given_twice(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "command: a\ndisplay_name: x\ncommand: b\n"))
    assert isinstance(err, InvalidSpec) and err.line == 3
    assert "'command' appears twice" in err.message


def test_missing_job_file(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nope.yml")
    assert isinstance(err, NotFound)
    assert "nope.yml" in err.message and "does not exist" in err.message


def test_input_path_that_does_not_exist(project: Path) -> None:
    path = write(project, """\
        command: python train.py --data ${{inputs.data}}
        code: src
        inputs:
          data:
            type: uri_file
            path: ./data/train.csv
        """)
    err = load_error(path)
    assert isinstance(err, NotFound)
    assert f"{path}:6:" in err.message  # the `path:` line
    assert "'data'" in err.message and str((project / "data" / "train.csv").resolve()) in err.message
    assert err.hint is not None and "relative to the job file" in err.hint


def test_code_folder_that_does_not_exist(project: Path) -> None:
    path = write(project, "command: python train.py\ncode: ./source\n")
    err = load_error(path)
    assert isinstance(err, NotFound)
    assert f"{path}:2:" in err.message and "source" in err.message


def test_inline_environment_becomes_the_jobs_environment_spec(project: Path) -> None:
    path = write(project, "command: echo\nenvironment:\n  image: python:3.11\n")
    spec = load_job(path)
    assert spec.environment_spec is not None and spec.environment_spec.image == "python:3.11"
    assert spec.environment_spec.kind == "docker" and spec.environment is None


# --------------------------------------------------------------------------- render_command
ARGV_PRINTER = "import json, sys; print(json.dumps(sys.argv[1:]))"

NASTY = [
    "two words",
    "it's",
    'say "hi"',
    "a; rm -rf /tmp/should-not-run",
    "$(touch PWNED)",
    "`touch PWNED`",
    "$HOME and ${PATH}",
    "back\\slash\\",
    "tab\tand\nnewline",
    "*.py ?",
    "",
    "-n",
    "ünïcødé ✓",
    "' \" $ ` \\ ; & | < > ( ) { } # ~ !",
]


def run_rendered(command: str, cwd: Path) -> list[Any]:
    proc = subprocess.run(["/bin/sh", "-c", command], check=False, capture_output=True, text=True, cwd=cwd, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("form", ["bare", "double-quoted", "single-quoted", "old-syntax"])
def test_rendered_values_reach_the_script_as_one_unchanged_argument(tmp_path: Path, form: str) -> None:
    (tmp_path / "argv.py").write_text(ARGV_PRINTER)
    refs = {
        "bare": "${{inputs.v%d}}",
        "double-quoted": '"${{inputs.v%d}}"',
        "single-quoted": "'${{inputs.v%d}}'",
        "old-syntax": "{inputs.v%d}",
    }[form]
    command = f"{sys.executable} argv.py " + " ".join(refs % i for i in range(len(NASTY)))
    inputs = {f"v{i}": v for i, v in enumerate(NASTY)}
    rendered = render_command(command, inputs)
    assert run_rendered(rendered, tmp_path) == NASTY
    assert not (tmp_path / "PWNED").exists()


def test_rendered_value_inside_a_longer_word(tmp_path: Path) -> None:
    (tmp_path / "argv.py").write_text(ARGV_PRINTER)
    value = "a b;$(x)'\""
    rendered = render_command(
        f'{sys.executable} argv.py --name=${{{{inputs.n}}}} "--quoted=${{{{inputs.n}}}}!" && echo',
        {"n": value},
    )
    out = subprocess.run(["/bin/sh", "-c", rendered], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(out.stdout.splitlines()[0]) == [f"--name={value}", f"--quoted={value}!"]


def test_pipes_and_and_still_work_in_the_command(tmp_path: Path) -> None:
    rendered = render_command("echo ${{inputs.x}} | tr a-z A-Z && echo done", {"x": "a;b"})
    out = subprocess.run(["/bin/sh", "-c", rendered], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout == "A;B\ndone\n"


def test_numbers_and_booleans_render_as_text(tmp_path: Path) -> None:
    (tmp_path / "argv.py").write_text(ARGV_PRINTER)
    rendered = render_command(
        f"{sys.executable} argv.py ${{{{inputs.lr}}}} ${{{{inputs.n}}}} ${{{{inputs.amp}}}} ${{{{search_space.bs}}}}",
        {"lr": 0.001, "n": 10, "amp": True, "bs": 64},
    )
    assert run_rendered(rendered, tmp_path) == ["0.001", "10", "true", "64"]


def test_outputs_references_render(tmp_path: Path) -> None:
    rendered = render_command("echo ${{outputs.model_dir}}", {}, {"model_dir": "/runs/x/outputs/model dir"})
    out = subprocess.run(["/bin/sh", "-c", rendered], check=False, capture_output=True, text=True)
    assert out.stdout == "/runs/x/outputs/model dir\n"


def test_whitespace_inside_the_braces_is_allowed() -> None:
    assert render_command("echo ${{ inputs.x }}", {"x": "1"}) == "echo 1"


def test_unknown_input_reference_is_an_error() -> None:
    with pytest.raises(InvalidSpec) as info:
        render_command("python t.py --a ${{inputs.x}} --b ${{inputs.y}}", {"x": 1, "z": 2}, source="job.yml")
    err = info.value
    assert "inputs.y" in err.message and "not defined" in err.message
    assert "x, z" in err.message  # what is defined
    assert err.file == "job.yml" and err.field == "command"
    assert err.hint is not None and "y:" in err.hint


def test_unknown_output_reference_is_an_error() -> None:
    with pytest.raises(InvalidSpec, match=r"outputs\.model"):
        render_command("echo ${{outputs.model}}", {"model": 1})


def test_referenced_names() -> None:
    assert referenced_names("a ${{inputs.x}} {inputs.y} ${{outputs.o}} ${{search_space.lr}}") == [
        ("inputs", "x"), ("inputs", "y"), ("outputs", "o"), ("search_space", "lr")]
