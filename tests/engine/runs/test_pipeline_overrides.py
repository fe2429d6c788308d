"""A pipeline file run with `--set` (pipeline inputs, settings, a step's compute, inputs and
environment variables, names), a misspelt `--set` refused with nothing recorded, and a command
component's `resources`/`distribution` reaching its step's run under the step's own values and
`limits.timeout`; all with real runs through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# each test has its own workspace (TRAINYARD_WORKSPACE), and leaves no run active behind it
pytestmark = pytest.mark.usefixtures("eng")

SAY = """\
import os, pathlib, sys
word, data, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
(out / "said.txt").write_text(word + " " + (data / "note.txt").read_text().strip())
"""

COMPONENT = """\
name: say
inputs:
  word: {type: string, default: hello}
  data: {type: uri_folder}
outputs:
  said: {type: uri_folder}
code: ./src
command: python say.py ${{inputs.word}} ${{inputs.data}} ${{outputs.said}}
"""

PIPELINE = """\
type: pipeline
experiment_name: sets
inputs:
  word: hello
  notes: {type: uri_folder, path: ./notes}
settings:
  default_compute: nowhere
jobs:
  say:
    component: file:./say.yml
    inputs:
      word: ${{parent.inputs.word}}
      data: ${{parent.inputs.notes}}
  echo:
    command: cat ${{inputs.said}}/said.txt && echo " $MARK ${{inputs.suffix}}"
    inputs:
      said: ${{parent.jobs.say.outputs.said}}
      suffix: plain
"""


def _project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "say.py").write_text(SAY)
    for name, text in (("notes", "from notes"), ("other", "from other")):
        (root / name).mkdir()
        (root / name / "note.txt").write_text(text)
    (root / "say.yml").write_text(COMPONENT)
    (root / "pipeline.yml").write_text(PIPELINE)
    return root / "pipeline.yml"


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _log(run_dir: str) -> str:
    return "".join(p.read_text() for p in sorted((Path(run_dir) / "azureml-logs").glob("70_driver_log*")))


def test_set_changes_a_pipeline_s_inputs_settings_names_and_steps(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = _project(tmp_path / "proj")
    sets = [
        "--set", "settings.default_compute=local",  # the file's `nowhere` would be refused
        "--set", "inputs.word=bonjour",
        "--set", "inputs.notes.path=./other",
        "--set", "jobs.echo.compute=local",
        "--set", "jobs.echo.inputs.suffix=changed",
        "--set", "jobs.echo.environment_variables.MARK=marked",
        "--set", "display_name=with sets",
        "--set", "experiment_name=sets-exp",
    ]
    valid = cli("job", "validate", "-f", str(path), *sets)
    assert valid.returncode == 0, valid.stderr
    first = _json(cli("job", "create", "-f", str(path), *sets, "--stream", "-o", "json", timeout=240))
    assert (first["status"], first["display_name"], first["experiment_name"]) == (
        "Completed", "with sets", "sets-exp")
    say = _json(cli("job", "show", "-n", f"{first['name']}_say", "-o", "json"))
    echo = _json(cli("job", "show", "-n", f"{first['name']}_echo", "-o", "json"))
    assert say["compute"] == "local" and say["parent_job_name"] == first["name"]
    said = Path(say["run_dir"]) / "outputs" / "said" / "said.txt"
    assert said.read_text() == "bonjour from other"
    assert "bonjour from other marked changed" in _log(echo["run_dir"])

    # Unchanged, every step is reused; `--set settings.force_rerun=true` reuses nothing.
    again = _json(cli("job", "create", "-f", str(path), *sets, "--stream", "-o", "json", timeout=240))
    steps = _json(cli("job", "show", "-n", again["name"], "-o", "json"))["steps"]
    assert [s["reused_from"] for s in steps] == [f"{first['name']}_say", f"{first['name']}_echo"]
    forced = _json(cli("job", "create", "-f", str(path), *sets, "--set", "settings.force_rerun=true",
                       "--stream", "-o", "json", timeout=240))
    steps = _json(cli("job", "show", "-n", forced["name"], "-o", "json"))["steps"]
    assert forced["status"] == "Completed" and [s["reused_from"] for s in steps] == [None, None]


def test_a_set_that_names_no_step_or_key_is_refused_and_records_nothing(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = _project(tmp_path / "proj")
    for command in ("create", "validate"):
        bad = cli("job", command, "-f", str(path), "--set", "jobs.nosuch.compute=local")
        assert bad.returncode != 0
        assert "--set jobs.nosuch.compute" in bad.stderr and "steps: say, echo" in bad.stderr, bad.stderr
    for key, words in (("settings.force_rerunn=true", "settings: default_compute"),
                       ("jobs.echo.comptue=local", "keys of a command step"),
                       ("nosuch=1", "a pipeline job has no key 'nosuch'")):
        bad = cli("job", "create", "-f", str(path), "--set", key)
        assert bad.returncode != 0 and words in bad.stderr, bad.stderr
    # The file's own compute, unchanged: the hint says how to change it for the step.
    unknown = cli("job", "create", "-f", str(path))
    assert unknown.returncode != 0 and "--set jobs.say.compute=local" in unknown.stderr, unknown.stderr
    assert _json(cli("job", "list", "-o", "json")) == []


RESOURCE_COMPONENT = """\
name: work
inputs:
  secs: {type: number, default: 0}
command: python -c "import sys, time; time.sleep(float(sys.argv[1]))" ${{inputs.secs}}
resources: {shm_size: 3g, instance_count: 2}
distribution: {type: pytorch, process_count_per_instance: 1}
"""

RESOURCE_PIPELINE = """\
type: pipeline
settings: {default_compute: local, continue_on_step_failure: true}
jobs:
  as_is:
    component: ./work.yml
  overridden:
    component: ./work.yml
    resources: {shm_size: 1g}
    distribution: {type: pytorch, process_count_per_instance: 2}
  timed:
    component: ./work.yml
    resources: {instance_count: 1}
    inputs: {secs: 300}
    limits: {timeout: 2}
  registered:
    component: azureml:work@latest
    resources: {shm_size: 5g}
    inputs: {secs: 0.1}  # not the same as as_is: neither is reused from the other
"""


def test_a_component_s_resources_reach_its_steps_under_the_step_s_own(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    root.mkdir()
    (root / "work.yml").write_text(RESOURCE_COMPONENT)
    (root / "pipeline.yml").write_text(RESOURCE_PIPELINE)
    registered = _json(cli("component", "create", "-f", str(root / "work.yml"), "-o", "json"))
    assert registered["shm_size"] == "3g" and registered["distribution"]["instance_count"] == 2
    created = cli("job", "create", "-f", str(root / "pipeline.yml"), "--stream", "-o", "json", timeout=240)
    assert created.returncode != 0, created.stderr  # a step was stopped at its timeout
    run = json.loads(created.stdout)
    shown = {s: _json(cli("job", "show", "-n", f"{run['name']}_{s}", "-o", "json"))
             for s in ("as_is", "overridden", "timed", "registered")}
    as_is, over, timed, reg = (shown[s] for s in ("as_is", "overridden", "timed", "registered"))
    assert as_is["status"] == "Completed"
    assert as_is["resources"]["shm_size"] == "3g" and as_is["resources"]["instance_count"] == 2
    assert as_is["distribution"] == {"kind": "pytorch", "process_count_per_instance": 1, "instance_count": 2}
    assert over["resources"]["shm_size"] == "1g"  # the step's key wins; the others are the component's
    assert over["distribution"]["process_count_per_instance"] == 2 and over["resources"]["instance_count"] == 2
    assert reg["status"] == "Completed" and reg["resources"]["shm_size"] == "5g"
    assert reg["distribution"]["instance_count"] == 2  # a registered component's, kept with it
    assert timed["limits"] == {"timeout": 2.0} and timed["resources"]["instance_count"] == 1
    assert timed["status"] == "Canceled" and "max_run_duration_seconds=2" in timed["error"], timed["error"]
    assert run["status"] == "Canceled"
