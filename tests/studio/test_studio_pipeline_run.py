"""A real pipeline run in the studio: its page opens on the live graph (each step's box in its
status, the reused badge on a resubmission), a click on a step opens that step's run, the Child
runs tab lists the steps; and the Submit dialog previews a pipeline YAML as its graph before it
submits it."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from engine.specs.pipeline import load_pipeline_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "fares-pipeline"
TIMEOUT_MS = 90_000

PIPELINE = textwrap.dedent("""
    type: pipeline
    experiment_name: pipes
    jobs:
      make:
        type: command
        code: ./src
        command: python make.py ${{outputs.numbers}}
        outputs:
          numbers: {type: uri_folder}
      total:
        type: command
        code: ./src
        command: python total.py ${{inputs.numbers}} ${{inputs.hold}}
        inputs:
          numbers: ${{parent.jobs.make.outputs.numbers}}
          hold: HOLD
""")

MAKE = textwrap.dedent("""
    import os, sys
    os.makedirs(sys.argv[1], exist_ok=True)
    open(os.path.join(sys.argv[1], "n.txt"), "w").write("1 2 3 4")
""")

TOTAL = textwrap.dedent("""
    import os, sys, time
    from azureml.core import Run
    hold = sys.argv[2]
    while not os.path.exists(hold):
        time.sleep(0.05)
    numbers = open(os.path.join(sys.argv[1], "n.txt")).read().split()
    Run.get_context().log("total", sum(map(int, numbers)))
""")


def write_pipeline(folder: Path, hold: Path) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "make.py").write_text(MAKE)
    (folder / "src" / "total.py").write_text(TOTAL)
    path = folder / "pipeline.yml"
    path.write_text(PIPELINE.replace("HOLD", str(hold)))
    return path


def statuses(detail: Any) -> dict[str, str]:
    model = detail.pipeline.model if detail.pipeline is not None else None
    return {} if model is None else {s.name: s.status for s in model.steps}


def test_a_pipeline_run_page_shows_its_steps_live_and_opens_them(
    qtbot: Any, window: Any, engine: Any, tmp_path: Path
) -> None:
    hold = tmp_path / "release"
    run = engine.submit_pipeline(load_pipeline_file(write_pipeline(tmp_path / "proj", hold)))
    detail = window.show_run(run.name)
    qtbot.waitUntil(lambda: detail.pipeline is not None, timeout=TIMEOUT_MS)
    assert detail.tabs.currentWidget() is detail.pipeline  # a pipeline opens on its graph
    assert detail.tabs.tabText(0) == "Pipeline"
    # live: the first step completes, the second runs (held), before anything is released
    qtbot.waitUntil(lambda: statuses(detail) == {"make": "Completed", "total": "Running"}, timeout=TIMEOUT_MS)
    graph = detail.pipeline.graph
    assert [(e.source, e.output, e.target, e.input) for e in detail.pipeline.model.edges] == [
        ("make", "numbers", "total", "numbers")
    ]
    assert graph.items["total"].state_text().startswith("Running")
    assert "step" in detail.pipeline.summary.text() and "1 Running" in detail.pipeline.summary.text()
    hold.write_text("go")
    qtbot.waitUntil(
        lambda: statuses(detail) == {"make": "Completed", "total": "Completed"}, timeout=TIMEOUT_MS
    )
    assert graph.items["total"].state_text().startswith("Completed · ")

    # the Child runs tab lists the two steps' runs
    steps = {s.name: s.run_name for s in engine.pipeline_graph(run.name).steps}
    qtbot.waitUntil(lambda: sorted(detail.child_runs.names()) == sorted(steps.values()), timeout=TIMEOUT_MS)

    # a click on a box opens that step's run
    detail.pipeline.graph.ensureVisible(graph.items["total"])
    pos = graph.step_at_center("total").toPoint()
    qtbot.mouseClick(graph.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(
        lambda: window.detail is not None and window.detail.name == steps["total"], timeout=10_000
    )
    assert window.detail.pipeline is None  # a step is a plain run


def test_a_resubmitted_pipeline_shows_its_steps_reused(
    qtbot: Any, window: Any, engine: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "fares"
    shutil.copytree(EXAMPLE, folder)
    first = engine.submit_pipeline(load_pipeline_file(folder / "pipeline.yml"))
    engine.wait(first.name, timeout=120)
    assert engine.get_run(first.name).status == "Completed"
    again = engine.submit_pipeline(load_pipeline_file(folder / "pipeline.yml"))
    detail = window.show_run(again.name)

    def all_reused() -> None:
        model = detail.pipeline.model if detail.pipeline is not None else None
        assert model is not None and all(s.reused_from for s in model.steps), model

    qtbot.waitUntil(all_reused, timeout=TIMEOUT_MS)
    item = detail.pipeline.graph.items["train"]
    assert item.state_text() == "Completed"  # a reused step did not run: no duration of its own
    first_train = engine.pipeline_graph(first.name).step("train").run_name
    assert f"Reused from {first_train}" in item.toolTip()
    assert "3 reused" in detail.pipeline.summary.text()
    # the Child runs tab lists the steps' runs, each marked reused
    detail.show_tab("children")
    qtbot.waitUntil(lambda: detail.child_runs.count() == 3, timeout=TIMEOUT_MS)
    table = detail.child_runs.table
    assert [table.topLevelItem(i).text(1) for i in range(3)] == ["Completed (reused)"] * 3


def test_the_submit_dialog_previews_a_pipeline_file_as_its_graph(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "fares"
    shutil.copytree(EXAMPLE, folder)
    dialog = window.open_project(folder, "pipeline.yml")  # as a dropped pipeline.yml opens it
    qtbot.waitUntil(lambda: not dialog.is_scanning(), timeout=30_000)
    assert dialog.job_radio.isChecked() and dialog.job_combo.currentData() == "pipeline.yml"
    preview = dialog.pipeline_preview
    qtbot.waitUntil(lambda: preview.model is not None, timeout=30_000)
    assert preview.isVisible()
    assert [s.name for s in preview.model.steps] == ["prep", "train", "score"]
    assert {(e.source, e.target) for e in preview.model.edges} == {
        ("prep", "train"),
        ("prep", "score"),
        ("train", "score"),
    }
    assert all(item.state_text() == "Not started" for item in preview.graph.items.values())
    assert "3 steps, 3 data connections" in preview.caption.text()
    assert "snapshotted when the pipeline is submitted" in dialog.snapshot_label.text()
    assert dialog.problem() == ""
    with qtbot.waitSignal(dialog.submitted, timeout=60_000) as done:
        qtbot.waitUntil(dialog.submit_button.isEnabled, timeout=10_000)
        dialog.submit()
    run = done.args[0]
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.name == run.name, timeout=10_000)
    qtbot.waitUntil(lambda: window.detail.pipeline is not None, timeout=30_000)
