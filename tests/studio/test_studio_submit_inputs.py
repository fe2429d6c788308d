"""The Submit dialog's data inputs of a job file: each declared input shows where it comes from and
can be changed to a dropped folder or a registered asset; declared outputs are shown. The change
reaches the run as `--set inputs.NAME.path=...` would. Every submit here is a real run."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QToolButton

JOB = textwrap.dedent("""
    type: command
    command: python list_input.py ${{inputs.table}} ${{outputs.model}}
    code: ..
    experiment_name: pick-inputs
    inputs:
      table:
        type: uri_folder
        path: ../data
    outputs:
      model:
        type: uri_folder
""")
LIST_INPUT = "import os, sys\nprint('FILES', sorted(os.listdir(sys.argv[1])), flush=True)\n"


def _open_job(qtbot, window, project: Path):
    dialog = window.open_project(project)
    qtbot.waitUntil(lambda: not dialog.is_scanning() and dialog.snapshot_preview() is not None, timeout=10_000)
    dialog.select_job("jobs/job.yml")
    return dialog


def _submit(qtbot, window, dialog, wait_status) -> str:
    before = window.detail.name if window.detail is not None else None
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.name != before, timeout=30_000)
    name = window.detail.name
    wait_status(window, name, "Completed")
    return name


def test_inputs_are_picked_by_drop_or_asset_and_reach_the_run(qtbot, window, engine, project, wait_status):
    (project / "list_input.py").write_text(LIST_INPUT)
    (project / "jobs").mkdir()
    (project / "jobs" / "job.yml").write_text(JOB)
    (project / "data").mkdir()
    (project / "data" / "declared.csv").write_text("a\n1\n")
    dropped = project.parent / "elsewhere"
    dropped.mkdir()
    (dropped / "dropped.csv").write_text("b\n2\n")
    registered = project.parent / "to-register"
    registered.mkdir()
    (registered / "registered.csv").write_text("c\n3\n")
    engine.create_data_asset("fares", str(registered))

    dialog = _open_job(qtbot, window, project)
    editor = dialog.inputs_editor
    assert editor.names() == ["table"]
    assert editor.source("table") == str((project / "data").resolve())
    shown = [editor.form.itemAt(r, editor.form.ItemRole.FieldRole).widget().text() for r in range(editor.form.rowCount())
             if r > 0]
    assert shown == ["→ outputs/model"]

    # A path that is not there: said, and nothing is submitted.
    editor.set_source("table", str(project / "nope"))
    assert "does not exist" in dialog.problem_label.text() and not dialog.submit_button.isEnabled()

    # A folder dropped on the field (as from a file manager).
    edit = editor.edits["table"]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    edit.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier))
    assert editor.source("table") == str(dropped)
    assert dialog.submit_button.isEnabled()
    name = _submit(qtbot, window, dialog, wait_status)
    assert "FILES ['dropped.csv']" in engine.run_files(name).driver_log.read_text()
    assert (project / "jobs" / "job.yml").read_text() == JOB  # the file itself is untouched

    # A registered asset, from the field's Assets menu.
    dialog = _open_job(qtbot, window, project)
    button = dialog.inputs_editor.findChild(QToolButton)
    refs = [a.text() for a in button.menu().actions()]
    assert refs == ["azureml:fares@latest", "azureml:fares:1"]
    button.menu().actions()[0].trigger()
    assert dialog.inputs_editor.source("table") == "azureml:fares@latest"
    name = _submit(qtbot, window, dialog, wait_status)
    assert "FILES ['registered.csv']" in engine.run_files(name).driver_log.read_text()
    assert any(r.direction == "input" and r.asset_name == "fares" for r in engine.run_data(name))
