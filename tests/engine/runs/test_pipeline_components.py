"""Command components in the registry (`trainyard component create|list|show`, versions) used by a
pipeline as `azureml:NAME@latest`, and a sweep step between two command steps, with real runs."""

from __future__ import annotations

import json
from pathlib import Path

from engine.api import Engine
from engine.specs.pipeline import load_pipeline_file

COMPONENT = """\
name: shout
version: {version}
display_name: shout a word
inputs:
  word: {{type: string, default: hello}}
outputs:
  said: {{type: uri_folder}}
code: ./src
command: python shout.py ${{{{inputs.word}}}} ${{{{outputs.said}}}}
"""

SHOUT = """\
import pathlib, sys
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
(out / "said.txt").write_text(sys.argv[1].upper() + "{mark}")
"""


def test_components_register_with_versions_and_a_pipeline_runs_the_registered_code(
    eng: Engine, tmp_path: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "shout.py").write_text(SHOUT.format(mark="!"))
    (root / "shout.yml").write_text(COMPONENT.format(version=1))
    created = cli("component", "create", "-f", str(root / "shout.yml"), "-o", "json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["version"] == "1"
    (root / "shout.yml").write_text(COMPONENT.format(version=1).replace("version: 1\n", ""))
    again = cli("component", "create", "-f", str(root / "shout.yml"))
    assert again.returncode == 0 and "shout:2" in again.stdout, again.stderr
    listed = json.loads(cli("component", "list", "-o", "json").stdout)
    assert [(c["name"], c["version"]) for c in listed] == [("shout", "1"), ("shout", "2")]
    shown = json.loads(cli("component", "show", "-n", "shout:1", "-o", "json").stdout)
    assert shown["inputs"]["word"]["default"] == "hello" and shown["snapshot_id"]
    (root / "bad.yml").write_text("name: bad\ncommand: echo\ncomand: typo\n")
    bad = cli("component", "create", "-f", str(root / "bad.yml"))
    assert (
        bad.returncode == 1
        and f"{root / 'bad.yml'}:3" in bad.stderr
        and "did you mean 'command'" in bad.stderr
    )

    # The registered version keeps the code it was created with.
    (root / "src" / "shout.py").write_text(SHOUT.format(mark="?"))
    (root / "pipeline.yml").write_text("""\
type: pipeline
jobs:
  say:
    component: azureml:shout@latest
    inputs: {word: trainyard}
  missing:
    component: azureml:whisper@latest
""")
    refused = cli("job", "create", "-f", str(root / "pipeline.yml"))
    assert (
        refused.returncode == 1
        and "step 'missing'" in refused.stderr
        and "no component named 'whisper'" in refused.stderr
    ), refused.stderr
    text = (root / "pipeline.yml").read_text()
    (root / "pipeline.yml").write_text(text[: text.index("  missing:")])
    run = eng.submit_pipeline(load_pipeline_file(root / "pipeline.yml"))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Completed", final.error
    step = eng.get_run(str(eng.pipeline_graph(run.name).step("say").run_name))
    assert (Path(step.run_dir) / "outputs" / "said" / "said.txt").read_text() == "TRAINYARD!"
    assert step.properties["component"] == "shout:2"


TRIAL = """\
import pathlib, sys
from azureml.core import Run
x, data, out = float(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
base = float((pathlib.Path(data) / "base.txt").read_text())
out.mkdir(parents=True, exist_ok=True)
(out / "x.txt").write_text(str(x))
Run.get_context().log("loss", (x - base) ** 2)
"""


def test_a_sweep_step_passes_its_best_trial_s_output_on(eng: Engine, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "trial.py").write_text(TRIAL)
    (root / "pipeline.yml").write_text("""\
type: pipeline
jobs:
  base:
    command: mkdir -p ${{outputs.out}} && echo 3 > ${{outputs.out}}/base.txt
    outputs: {out: }
  search:
    type: sweep
    trial:
      code: src
      command: python trial.py ${{search_space.x}} ${{inputs.data}} ${{outputs.best}}
    inputs:
      data: ${{parent.jobs.base.outputs.out}}
    outputs: {best: }
    sampling_algorithm: grid
    search_space:
      x: {type: choice, values: [1, 3, 5]}
    objective: {goal: minimize, primary_metric: loss}
    limits: {max_total_trials: 3, max_concurrent_trials: 3}
  use:
    command: cat ${{inputs.best}}/x.txt
    inputs:
      best: ${{parent.jobs.search.outputs.best}}
""")
    run = eng.submit_pipeline(load_pipeline_file(root / "pipeline.yml"))
    final = eng.wait(run.name, timeout=240)
    graph = eng.pipeline_graph(run.name)
    assert final.status == "Completed", (final.error, graph)
    sweep = eng.get_run(str(graph.step("search").run_name))
    assert sweep.parent_name == run.name and len(eng.children(sweep.name)) == 3
    use = eng.get_run(str(graph.step("use").run_name))
    assert (
        Path(use.run_dir) / "azureml-logs" / "70_driver_log.txt"
    ).read_text().strip() == "3.0"  # the best trial, x=3
