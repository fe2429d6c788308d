"""Submitting a run from the studio: drop or open a project folder, check the pre-filled
dialog, submit, and land on the new run's detail."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.dialogs.scripts import default_experiment_name, find_scripts

GUARD = 'if __name__ == "__main__":\n    main()\n'


def _project(root: Path, make_project) -> Path:
    folder = make_project(root / "Digits Classifier")
    (folder / "main.py").write_text("def main():\n    pass\n\n" + GUARD)
    (folder / "evaluate.py").write_text("def main():\n    print('eval')\n\n" + GUARD)
    (folder / "lib.py").write_text("def helper():\n    return 1\n")
    (folder / "tools").mkdir()
    (folder / "tools" / "export.py").write_text("if __name__ == '__main__':\n    pass\n")
    (folder / ".venv" / "lib").mkdir(parents=True)
    (folder / ".venv" / "lib" / "x.py").write_text(GUARD)
    # train.py of the fixture project runs at import, without a guard: add one.
    train = (folder / "train.py").read_text()
    guard = GUARD.replace("main()", "pass")
    (folder / "train.py").write_text("def main():\n    pass\n" + train + "\n" + guard)
    return folder


def test_find_scripts_ranks_train_and_main_first(tmp_path, make_project):
    folder = _project(tmp_path, make_project)
    assert find_scripts(folder) == ["train.py", "main.py", "evaluate.py", "tools/export.py"]
    assert default_experiment_name(folder) == "Digits-Classifier"
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "b.py").write_text("print(1)\n")
    (plain / "a.py").write_text("print(2)\n")
    assert find_scripts(plain) == ["a.py", "b.py"]  # no guard anywhere: every top-level script


def test_submit_dialog_prefills_and_submits_a_run(qtbot, window, tmp_path, wait_status, make_project):
    folder = _project(tmp_path, make_project)
    dialog = window.open_project(folder)
    qtbot.waitUntil(lambda: not dialog.is_scanning(), timeout=10_000)
    assert dialog.scripts() == ["train.py", "main.py", "evaluate.py", "tools/export.py"]
    assert dialog.script_combo.currentText() == "train.py"
    assert dialog.experiment_edit.text() == "Digits-Classifier"
    assert dialog.compute_combo.currentText() == "local"
    dialog.arguments_edit.setText("--points 7")
    assert dialog.arguments() == ("--points", "7")
    assert dialog.submit_button.isEnabled()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    detail = window.detail
    assert window.current_page() == "run"
    wait_status(window, detail.name, "Completed")
    run = window.engine.get_run(detail.name)
    assert run.experiment_name == "Digits-Classifier"
    assert run.arguments == ("--points", "7")
    assert run.compute == "local"
    qtbot.waitUntil(lambda: "training finished" in detail.logs.text(), timeout=10_000)


def test_submit_dialog_explains_invalid_arguments(qtbot, window, project):
    dialog = window.open_project(project)
    qtbot.waitUntil(lambda: not dialog.is_scanning(), timeout=10_000)
    assert dialog.scripts() == ["train.py"]  # no guard: the only top-level script
    dialog.arguments_edit.setText('--name "unclosed')
    assert not dialog.submit_button.isEnabled()
    assert "quotation" in dialog.problem_label.text() or "quote" in dialog.problem_label.text()
    assert dialog.problem_label.isVisibleTo(dialog)
    assert dialog.submit() is None
    dialog.arguments_edit.setText('--name "closed now"')
    assert dialog.arguments() == ("--name", "closed now")
    assert dialog.submit_button.isEnabled() and not dialog.problem_label.isVisibleTo(dialog)


def test_submit_failure_keeps_the_dialog_open_with_the_error(qtbot, window, project, monkeypatch):
    shown = []
    monkeypatch.setattr("studio.dialogs.submit.show_error", lambda parent, exc: shown.append(exc))
    dialog = window.open_project(project)
    qtbot.waitUntil(lambda: not dialog.is_scanning(), timeout=10_000)
    dialog.script_combo.setCurrentText("missing.py")
    dialog.submit()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert "missing.py" in shown[0].message
    assert dialog.isVisible() and dialog.submit_button.isEnabled()
    assert window.detail is None


def test_dropping_a_folder_opens_the_submit_dialog(qtbot, window, project):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(project / "train.py"))])
    event = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    dialog = window.submit_dialog
    assert dialog is not None and dialog.folder == project.resolve()
    qtbot.waitUntil(lambda: not dialog.is_scanning(), timeout=10_000)
    assert dialog.script_combo.currentText() == "train.py"
    dialog.reject()
