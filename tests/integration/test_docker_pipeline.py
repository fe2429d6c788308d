"""A pipeline that mixes compute: a local step, a step in a Docker container (the real daemon) and
a local step again, the outputs passed between them through the data path of any job (a bind
mount into the container, the run folders on this machine)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.errors import InvalidState
from engine.specs.pipeline import load_pipeline_file

BASE = "trainyard-test-base:latest"

PIPELINE = """\
type: pipeline
settings: {default_compute: local}
jobs:
  make:
    code: src
    command: python make.py ${{outputs.out}}
    outputs: {out: }
  double:
    compute: azureml:box
    code: src
    command: python double.py ${{inputs.number}} ${{outputs.out}}
    inputs: {number: "${{parent.jobs.make.outputs.out}}"}
    outputs: {out: }
  check:
    code: src
    command: cat ${{inputs.doubled}}/n.txt
    inputs: {doubled: "${{parent.jobs.double.outputs.out}}"}
"""


@pytest.fixture
def eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any) -> Iterator[Engine]:
    ws = tmp_path / "ws"
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(ws))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    e = Engine.open(ws)
    e.store.add_compute_target("box", "docker", {"image": BASE})
    yield e
    for run in e.list_runs():
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):
                e.cancel(run.name)
            e.wait(run.name, timeout=60)
    e.close()


def test_a_pipeline_passes_outputs_between_local_and_container_steps(eng: Engine, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "make.py").write_text(
        "import pathlib, sys\nout = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'n.txt').write_text('21')\n"
    )
    (root / "src" / "double.py").write_text(
        "import os, pathlib, sys\nn = int((pathlib.Path(sys.argv[1]) / 'n.txt').read_text())\n"
        "out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'n.txt').write_text(str(2 * n))\nprint('in a container:', os.path.exists('/.dockerenv'))\n"
    )
    (root / "pipeline.yml").write_text(PIPELINE)
    run = eng.submit_pipeline(load_pipeline_file(root / "pipeline.yml"))
    final = eng.wait(run.name, timeout=300)
    graph = eng.pipeline_graph(run.name)
    assert final.status == "Completed", (final.error, graph)
    double = eng.get_run(str(graph.step("double").run_name))
    assert double.compute == "box"
    assert "in a container: True" in (Path(double.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    check = eng.get_run(str(graph.step("check").run_name))
    assert (Path(check.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text().strip().endswith("42")
