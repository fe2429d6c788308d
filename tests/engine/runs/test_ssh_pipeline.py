"""A pipeline whose middle step runs on an SSH target (the throwaway sshd on 127.0.0.1): the
prepared data goes up to the host as the step's input, the step's output comes back and the next,
local step reads it; submitted again unchanged, every step is reused, the SSH one included."""

from __future__ import annotations

from pathlib import Path

from test_ssh_compute import sshd, target  # noqa: F401 - fixtures

from engine.api import Engine
from engine.specs.pipeline import load_pipeline_file

PIPELINE = """\
type: pipeline
experiment_name: over-ssh
settings: {default_compute: local}
jobs:
  prepare:
    code: src
    command: python prepare.py ${{outputs.data}}
    outputs: {data: {}}
  train:
    compute: azureml:far
    code: src
    command: python train.py ${{inputs.data}} ${{outputs.model}}
    inputs: {data: "${{parent.jobs.prepare.outputs.data}}"}
    outputs: {model: {}}
  evaluate:
    code: src
    command: python evaluate.py ${{inputs.model}}
    inputs: {model: "${{parent.jobs.train.outputs.model}}"}
"""

PREPARE = """\
import pathlib, sys
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
(out / "numbers.txt").write_text("1 2 3 4\\n")
"""
TRAIN = """\
import os, pathlib, sys
numbers = [int(x) for x in (pathlib.Path(sys.argv[1]) / "numbers.txt").read_text().split()]
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text(f"sum={sum(numbers)}\\n")
print("trained in", os.getcwd(), "from", sys.argv[1], flush=True)
"""
EVALUATE = """\
import pathlib, sys
print("evaluated", (pathlib.Path(sys.argv[1]) / "model.txt").read_text().strip(), flush=True)
"""


def _log(run_dir: str) -> str:
    return (Path(run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()


def test_a_pipeline_passes_data_through_an_ssh_step_and_reuses_it(
    eng: Engine,
    target,  # noqa: F811
    tmp_path: Path,
) -> None:
    work = target()
    src = tmp_path / "proj" / "src"
    src.mkdir(parents=True)
    for name, text in (("prepare.py", PREPARE), ("train.py", TRAIN), ("evaluate.py", EVALUATE)):
        (src / name).write_text(text)
    path = tmp_path / "proj" / "pipeline.yml"
    path.write_text(PIPELINE)

    first = eng.wait(eng.submit_pipeline(load_pipeline_file(path)).name, timeout=240)
    graph = eng.pipeline_graph(first.name)
    assert first.status == "Completed", (first.error, [(s.name, s.status) for s in graph.steps])
    runs = {s.name: eng.get_run(str(s.run_name)) for s in graph.steps}
    assert {n: r.compute for n, r in runs.items()} == {"prepare": "local", "train": "far", "evaluate": "local"}
    # The SSH step ran in its folder on the host, its input uploaded there.
    train_log = _log(runs["train"].run_dir)
    assert f"trained in {work}/{runs['train'].name}" in train_log, train_log
    assert f"from {work}/{runs['train'].name}/inputs/data" in train_log, train_log
    # Its output came back into its run folder, and the local step after it read it.
    assert (Path(runs["train"].run_dir) / "outputs" / "model" / "model.txt").read_text() == "sum=10\n"
    assert "evaluated sum=10" in _log(runs["evaluate"].run_dir)

    again = eng.wait(eng.submit_pipeline(load_pipeline_file(path)).name, timeout=240)
    assert again.status == "Completed", again.error
    reused = {s.name: s.reused_from for s in eng.pipeline_graph(again.name).steps}
    assert reused == {n: r.name for n, r in runs.items()}
