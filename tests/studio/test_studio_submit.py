"""Submitting a run from the studio: drop or open a project folder, check the pre-filled
dialog, submit, and land on the new run's detail. Every submit here is a real run."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from engine.entities import EnvironmentSpec
from engine.environments.resolve import register_environment
from studio.dialogs.submit import ENV_FILE, ENV_NONE, ENV_REF, THIS_PYTHON

GUARD = 'if __name__ == "__main__":\n    main()\n'
SHOW_ENV = textwrap.dedent('''
    import os, sys

    def main():
        print("GREETING=" + os.environ.get("GREETING", "<unset>"), flush=True)
        print("PREFIX=" + sys.prefix, flush=True)

    if __name__ == "__main__":
        main()
''')
JOB = textwrap.dedent('''
    $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
    command: python show_env.py
    code: ..
    experiment_name: from-yaml
    environment_variables:
      GREETING: hello from the job file
''')


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


def _open(qtbot, window, folder: Path):
    dialog = window.open_project(folder)
    qtbot.waitUntil(lambda: not dialog.is_scanning() and dialog.snapshot_preview() is not None, timeout=10_000)
    return dialog


def _driver_log(engine, name: str) -> str:
    return engine.run_files(name).driver_log.read_text()


def test_submit_dialog_prefills_and_submits_a_run(qtbot, window, tmp_path, wait_status, make_project):
    folder = _project(tmp_path, make_project)
    dialog = _open(qtbot, window, folder)
    assert dialog.scripts() == ["train.py", "main.py", "evaluate.py", "tools/export.py"]
    assert dialog.script_combo.currentText() == "train.py"
    assert dialog.experiment_combo.currentText() == "Digits-Classifier"
    assert dialog.compute_combo.currentText() == "local"
    assert dialog.environment_choice() == (ENV_NONE, None)  # no environment file: this Python
    assert dialog.environment_combo.currentText() == THIS_PYTHON
    assert not dialog.mode_row.isVisibleTo(dialog)  # no job files: nothing to choose
    assert dialog.snapshot_label.text().startswith("6 files, ")  # the five scripts and lib.py
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
    assert run.max_run_duration_seconds is None
    detail.show_tab("logs")
    qtbot.waitUntil(lambda: "training finished" in detail.logs.text(), timeout=10_000)


def test_existing_experiments_and_compute_targets_are_offered(qtbot, window, engine, project, submit):
    submit("--points", "1", experiment="older-experiment")
    register_environment(engine.store, EnvironmentSpec(name="team-env", pip_requirements=()))
    dialog = _open(qtbot, window, project)
    experiments = [dialog.experiment_combo.itemText(i) for i in range(dialog.experiment_combo.count())]
    assert "older-experiment" in experiments
    assert dialog.experiment_combo.currentText() == "my-project"  # the folder's name by default
    targets = [dialog.compute_combo.itemData(i) for i in range(dialog.compute_combo.count())]
    assert targets[0] == "local" and "docker" in targets
    environments = [dialog.environment_combo.itemData(i) for i in range(dialog.environment_combo.count())]
    assert "ref:trainyard-python:1" in environments  # curated ones are offered
    assert "ref:team-env:1" in environments  # and the registered ones
    dialog.select_environment(ENV_REF, "trainyard-python:1")
    assert dialog.environment_choice() == (ENV_REF, "trainyard-python:1")
    assert "virtual environment" in dialog.environment_note.text().lower()
    dialog.experiment_combo.setEditText("no spaces allowed")
    assert not dialog.submit_button.isEnabled()
    assert "not a valid experiment name" in dialog.problem_label.text()
    dialog.experiment_combo.setCurrentText("older-experiment")
    assert dialog.submit_button.isEnabled()
    dialog.reject()


def test_environment_variables_and_max_duration_reach_the_run(qtbot, window, project, wait_status):
    (project / "show_env.py").write_text(SHOW_ENV)
    dialog = _open(qtbot, window, project)
    dialog.script_combo.setCurrentText("show_env.py")
    qtbot.mouseClick(dialog.env_vars.add_button, Qt.MouseButton.LeftButton)
    dialog.env_vars.table.item(0, 0).setText("2GREETING")
    dialog.env_vars.table.item(0, 1).setText("hello from the dialog")
    assert not dialog.submit_button.isEnabled()
    assert "'2GREETING' is not a valid environment variable name" in dialog.problem_label.text()
    dialog.env_vars.table.item(0, 0).setText("GREETING")
    dialog.duration.amount.setValue(2)
    dialog.duration.unit.setCurrentText("hours")
    assert dialog.duration.seconds() == 7200
    assert dialog.submit_button.isEnabled()
    dialog.submit()
    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    name = window.detail.name
    wait_status(window, name, "Completed")
    assert window.engine.get_run(name).max_run_duration_seconds == 7200
    assert "GREETING=hello from the dialog" in _driver_log(window.engine, name)


def test_a_job_yaml_of_the_folder_is_submitted_as_it_is(qtbot, window, project, wait_status):
    (project / "show_env.py").write_text(SHOW_ENV)
    (project / "jobs").mkdir()
    (project / "jobs" / "greet.yml").write_text(JOB)
    (project / "jobs" / "broken.yml").write_text("type: command\ncommand: python x.py\n  bad: [\n")
    dialog = _open(qtbot, window, project)
    assert dialog.mode_row.isVisibleTo(dialog)
    assert dialog.job_files() == ["jobs/greet.yml", "jobs/broken.yml"]

    dialog.select_job("jobs/broken.yml")
    assert not dialog.submit_button.isEnabled()
    assert f"{project.resolve() / 'jobs' / 'broken.yml'}:3: malformed YAML" in dialog.problem_label.text()

    dialog.select_job("jobs/greet.yml")
    shown = {dialog.job_form.itemAt(r, dialog.job_form.ItemRole.LabelRole).widget().text():
             dialog.job_form.itemAt(r, dialog.job_form.ItemRole.FieldRole).widget().text()
             for r in range(1, dialog.job_form.rowCount())}
    assert shown["Command"] == "python show_env.py"
    assert shown["Experiment"] == "from-yaml"
    assert shown["Variables"] == "GREETING=hello from the job file"
    assert dialog.submit_button.isEnabled()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    name = window.detail.name
    wait_status(window, name, "Completed")
    run = window.engine.get_run(name)
    assert run.experiment_name == "from-yaml"
    assert run.properties["source_file"] == str(project.resolve() / "jobs" / "greet.yml")
    assert "GREETING=hello from the job file" in _driver_log(window.engine, name)


def test_a_requirements_file_of_the_folder_is_the_run_environment(qtbot, window, project, wait_status):
    (project / "show_env.py").write_text(SHOW_ENV)
    (project / "requirements.txt").write_text("# the standard library is enough\n")
    dialog = _open(qtbot, window, project)
    assert dialog.environment_choice() == (ENV_FILE, "requirements.txt")  # a folder file comes first
    assert dialog.environment_note.text() == "pip requirements: no packages, built with uv"
    dialog.script_combo.setCurrentText("show_env.py")
    dialog.submit()
    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    name = window.detail.name
    wait_status(window, name, "Completed")
    run = window.engine.get_run(name)
    assert run.environment == "my-project-requirements.txt"
    prefix = _driver_log(window.engine, name).split("PREFIX=")[1].splitlines()[0]
    assert Path(prefix).is_relative_to(window.engine.location.envs_dir)  # the venv built for it


def test_a_too_large_project_is_refused_before_submitting(qtbot, window, project, monkeypatch):
    monkeypatch.setenv("TRAINYARD_SNAPSHOT_MAX_FILES", "3")
    for i in range(5):
        (project / f"data_{i}.csv").write_text("x\n" * 10)
    dialog = _open(qtbot, window, project)
    assert dialog.snapshot_preview().over_limit
    assert not dialog.submit_button.isEnabled()
    text = dialog.problem_label.text()
    assert "too large to snapshot" in text and "6 files" in text and ".amlignore" in text
    assert dialog.problem_label.isVisibleTo(dialog)
    assert dialog.submit() is None
    dialog.reject()


def test_submit_dialog_explains_invalid_arguments(qtbot, window, project):
    dialog = _open(qtbot, window, project)
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
    dialog = _open(qtbot, window, project)
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


def test_enter_submits_a_valid_form_and_does_nothing_on_an_invalid_one(qtbot, window, engine, project,
                                                                        wait_status):
    """Typing arguments and pressing Enter must never throw the run away (Cancel was the default)."""
    dialog = _open(qtbot, window, project)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not any(b.isDefault() or b.autoDefault() for b in dialog.buttons.buttons())
    dialog.arguments_edit.setFocus()
    qtbot.keyClicks(dialog.arguments_edit, "--points 'unclosed")
    assert not dialog.submit_button.isEnabled()  # the form is invalid now
    qtbot.keyClick(dialog.arguments_edit, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.arguments_edit, Qt.Key.Key_Enter)
    assert dialog.isVisible() and dialog.result() == 0  # neither cancelled nor submitted
    assert engine.list_runs() == []
    # fixed: Enter now submits the run with what was typed
    dialog.arguments_edit.clear()
    qtbot.keyClicks(dialog.arguments_edit, "--points 3")
    assert dialog.submit_button.isEnabled()
    qtbot.keyClick(dialog.arguments_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    wait_status(window, window.detail.name, "Completed")
    assert engine.get_run(window.detail.name).arguments == ("--points", "3")
    assert len(engine.list_runs()) == 1
