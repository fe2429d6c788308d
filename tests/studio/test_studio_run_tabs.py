"""The run detail's Overview, Logs, Outputs + logs, Snapshot and Child runs tabs, with real runs."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel

from engine.jobs.spec import JobSpec
from engine.sdk import Experiment, ScriptRunConfig, Workspace
from engine.sdk.run import Run as SdkRun
from studio.rundetail.logtail import DRIVER_LOG_REL, SUPERVISOR_LOG_REL

ARTIFACTS = textwrap.dedent('''
    import os, shutil
    os.makedirs("outputs/model", exist_ok=True)
    os.makedirs("logs", exist_ok=True)
    with open("logs/progress.log", "w") as f:
        f.write("epoch 1 done\\nepoch 2 done\\n")
    with open("outputs/notes.txt", "w") as f:
        f.write("accuracy was 0.93\\n")
    shutil.copy("picture.png", "outputs/picture.png")
    with open("outputs/model/weights.bin", "wb") as f:
        f.write(bytes(range(256)) * 4)
    print("artifacts written", flush=True)
''')


def _artifacts_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "make.py").write_text(ARTIFACTS)
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor("#2f80ed"))
    assert image.save(str(folder / "picture.png"))
    return folder


def _run(engine, folder: Path, script: str, *args: str, experiment: str = "exp-a") -> str:
    spec = JobSpec(experiment_name=experiment, code_dir=folder, script=script, arguments=tuple(args))
    return engine.submit(spec).name


def test_overview_shows_what_ran_and_where(qtbot, window, engine, submit, wait_status):
    name = submit("--points", "4")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    overview = detail.overview
    run = engine.get_run(name)

    def extras_in() -> None:
        assert "1 file" in overview.values["snapshot"].text()

    qtbot.waitUntil(extras_in, timeout=10_000)
    values = {k: v.text() for k, v in overview.values.items()}
    assert values["name"] == name
    assert values["experiment"] == "exp-a"
    assert values["command"] == "train.py --points 4"
    assert values["arguments"] == "--points 4"
    assert values["exit_code"] == "0"
    assert values["compute"].startswith("local")
    assert values["git"] == "Not in a git repository"
    assert values["snapshot"].startswith(run.snapshot_id[:16])
    assert "Completed" in values["status"]
    assert values["duration"]
    assert values["environment"].startswith("User-managed Python (")  # Trainyard's own interpreter
    for key in ("error", "next", "parent", "display_name"):
        assert not overview.values[key].isVisibleTo(overview), key
    # Long values are cut to the width, the whole value is in the tooltip and in text().
    command = overview.values["command"]
    long_command = "python train.py " + "--flag " * 200
    command.setText(long_command)
    shown = QLabel.text(command)  # what the label paints
    assert shown.endswith("…") and long_command.startswith(shown[:-1]), shown
    assert 0 < command.fontMetrics().horizontalAdvance(shown) <= command.width()
    assert command.toolTip() == long_command
    assert command.text() == long_command
    # A short value is shown whole, with no tooltip.
    command.setText("train.py")
    assert QLabel.text(command) == "train.py" and command.toolTip() == ""
    # Narrower, it is cut again to the new width.
    wide = command.width()
    command.resize(wide // 2, command.height())
    command.setText(long_command)
    assert command.fontMetrics().horizontalAdvance(QLabel.text(command)) <= wide // 2
    assert len(QLabel.text(command)) < len(shown)


def test_a_failed_run_links_its_driver_log(qtbot, window, submit, wait_status):
    name = submit("--points", "3", "--fail")
    wait_status(window, name, "Failed")
    detail = window.show_run(name)
    overview = detail.overview
    qtbot.waitUntil(lambda: overview.values["exit_code"].text() == "3", timeout=10_000)
    assert overview.values["error"].isVisibleTo(overview) and overview.values["error"].text()
    assert DRIVER_LOG_REL in overview.values["next"].text()
    overview.values["next"].linkActivated.emit(f"log:{DRIVER_LOG_REL}")
    assert detail.tabs.currentWidget() is detail.logs
    assert detail.logs.current_source() == DRIVER_LOG_REL
    qtbot.waitUntil(lambda: "something broke" in detail.logs.text(), timeout=10_000)


def test_logs_tab_lists_the_run_logs_and_search_finds_the_line(qtbot, window, engine, tmp_path, wait_status):
    folder = _artifacts_project(tmp_path / "artifacts")
    (folder / "make.py").write_text(ARTIFACTS + "for i in range(300):\n    print(f'line {i}')\n"
                                    "print('the needle is here')\nprint('and a NEEDLE again')\n")
    name = _run(engine, folder, "make.py")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    detail.show_tab("logs")
    logs = detail.logs
    qtbot.waitUntil(lambda: "NEEDLE again" in logs.text(), timeout=15_000)
    qtbot.waitUntil(lambda: "logs/progress.log" in logs.sources(), timeout=10_000)
    assert logs.sources()[0] == DRIVER_LOG_REL
    assert SUPERVISOR_LOG_REL in logs.sources()
    assert logs.source_labels()[0] == "Driver log (stdout and stderr)"
    assert "Supervisor log" in logs.source_labels()

    # Ctrl+F focuses the search box; typing searches (case-insensitive) and selects the first match.
    logs.edit.setFocus()
    qtbot.keyClick(logs.edit, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert logs.find.hasFocus()
    qtbot.keyClicks(logs.find, "needle")
    qtbot.waitUntil(lambda: logs.match_count() == 2, timeout=5_000)
    qtbot.waitUntil(lambda: logs.edit.textCursor().selectedText().lower() == "needle", timeout=5_000)
    first = logs.edit.textCursor().blockNumber()
    assert logs.edit.document().findBlockByNumber(first).text() == "the needle is here"
    assert logs.match_label.text() == "1 of 2"
    assert not logs.follow.isChecked()  # reading a match: new output must not scroll it away
    assert any(sel.cursor.selectedText().lower() == "needle" for sel in logs.edit.extraSelections())
    qtbot.keyClick(logs.find, Qt.Key.Key_Return)
    assert logs.edit.document().findBlockByNumber(logs.edit.textCursor().blockNumber()).text() == "and a NEEDLE again"
    assert logs.match_label.text() == "2 of 2"
    qtbot.keyClick(logs.find, Qt.Key.Key_Return)  # wraps around to the first
    assert logs.edit.textCursor().blockNumber() == first
    assert logs.find_previous() and logs.match_label.text() == "2 of 2"
    logs.find.setText("no such text")
    qtbot.waitUntil(lambda: logs.match_label.text() == "No matches", timeout=5_000)

    # The script's own ./logs files are there too.
    logs.select_source("logs/progress.log")
    qtbot.waitUntil(lambda: logs.text() == "epoch 1 done\nepoch 2 done\n", timeout=10_000)
    assert logs.path_label.text() == "logs/progress.log"


def test_logs_tail_a_running_script_live(qtbot, window, submit, tmp_path, wait_status):
    hold = tmp_path / "release"
    name = submit("--hold", str(hold))
    detail = window.show_run(name)
    detail.show_tab("logs")
    qtbot.waitUntil(lambda: "hello from train.py" in detail.logs.text(), timeout=30_000)
    assert detail.logs.is_polling() and detail.logs.follow.isChecked()
    hold.write_text("")
    qtbot.waitUntil(lambda: "training finished" in detail.logs.text(), timeout=30_000)
    wait_status(window, name, "Completed")
    qtbot.waitUntil(lambda: not detail.logs.is_polling(), timeout=10_000)
    assert detail.logs.text().count("hello from train.py") == 1


def test_outputs_tab_previews_downloads_and_registers(qtbot, window, engine, tmp_path, wait_status):
    folder = _artifacts_project(tmp_path / "artifacts")
    name = _run(engine, folder, "make.py")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    detail.show_tab("outputs")
    outputs = detail.outputs
    qtbot.waitUntil(lambda: len(outputs.files()) == 3, timeout=10_000)
    assert outputs.files() == ["notes.txt", "picture.png", "model/weights.bin"]
    assert outputs.files("logs") == ["progress.log"]
    assert "3 files in outputs/" in outputs.summary.text() and "1 file in logs/" in outputs.summary.text()

    assert outputs.select("outputs/notes.txt")
    qtbot.waitUntil(lambda: outputs.preview_text() == "accuracy was 0.93\n", timeout=5_000)
    assert "outputs/notes.txt" in outputs.preview_title.text()
    assert outputs.select("outputs/picture.png")
    qtbot.waitUntil(lambda: outputs.preview_image_size() is not None, timeout=5_000)
    assert (outputs.preview_image_size().width(), outputs.preview_image_size().height()) == (40, 30)
    assert "40 × 30 px" in outputs.preview_title.text()
    assert outputs.select("outputs/model/weights.bin")
    qtbot.waitUntil(lambda: outputs.preview.currentWidget() is outputs.no_preview, timeout=5_000)
    assert "not a text file" in outputs.no_preview.text.text()

    dest = tmp_path / "downloads"
    with qtbot.waitSignal(outputs.downloaded, timeout=10_000):
        outputs.download_to(dest, "outputs/notes.txt")
    assert (dest / name / "outputs" / "notes.txt").read_text() == "accuracy was 0.93\n"
    outputs.tree.clearSelection()
    assert outputs.download_button.text() == "Download all…"
    with qtbot.waitSignal(outputs.downloaded, timeout=10_000):
        outputs.download_to(tmp_path / "all")
    assert (tmp_path / "all" / name / "outputs" / "model" / "weights.bin").read_bytes() == bytes(range(256)) * 4
    assert (tmp_path / "all" / name / "logs" / "progress.log").is_file()

    assert outputs.select("outputs/model")
    assert outputs.register_button.isEnabled()
    with qtbot.waitSignal(outputs.registered, timeout=10_000) as registered:
        outputs.register_as_model("digits-weights")
    model = registered.args[0]
    assert (model.name, model.version, model.run_name) == ("digits-weights", 1, name)
    [stored] = engine.store.list_models("digits-weights")
    assert (Path(stored.path) / "weights.bin").read_bytes() == bytes(range(256)) * 4


def test_snapshot_tab_shows_the_code_and_the_diff_with_another_run(qtbot, window, engine, tmp_path,
                                                                   make_project, wait_status):
    old_project = make_project(tmp_path / "v1")
    new_project = make_project(tmp_path / "v2")
    train = (new_project / "train.py").read_text()
    (new_project / "train.py").write_text(train.replace('print("training finished", flush=True)',
                                                        'print("training done, v2", flush=True)'))
    (new_project / "utils.py").write_text("def helper():\n    return 42\n")
    old = _run(engine, old_project, "train.py", "--points", "2")
    new = _run(engine, new_project, "train.py", "--points", "2")
    wait_status(window, old, "Completed")
    wait_status(window, new, "Completed")

    detail = window.show_run(new)
    detail.show_tab("snapshot")
    snap = detail.snapshot
    qtbot.waitUntil(lambda: snap.files() == ["train.py", "utils.py"], timeout=10_000)
    qtbot.waitUntil(lambda: "training done, v2" in snap.code_text(), timeout=5_000)  # train.py opens first
    assert snap.summary.text().startswith("2 files")
    assert snap.open_file("utils.py")
    qtbot.waitUntil(lambda: snap.code_text() == "def helper():\n    return 42\n", timeout=5_000)

    qtbot.waitUntil(lambda: snap.other.findData(old) >= 0, timeout=5_000)  # runs of the experiment
    snap.other.activated.emit(snap.other.findData(old))
    qtbot.waitUntil(lambda: snap.diff is not None, timeout=10_000)
    assert snap.changed_files() == [("train.py", "changed"), ("utils.py", "added")]
    assert snap.summary.text().startswith(f"Compared with {old}: 1 changed, 1 added")
    diff = snap.diff_text()  # the first changed file is shown
    assert '-print("training finished", flush=True)' in diff
    assert '+print("training done, v2", flush=True)' in diff
    assert diff.startswith("--- a/train.py\n+++ b/train.py\n")
    snap.changes.setCurrentItem(snap.changes.topLevelItem(1))
    assert snap.diff_text() == "--- /dev/null\n+++ b/utils.py\n@@ -0,0 +1,2 @@\n+def helper():\n+    return 42\n"
    snap.show_files()
    assert snap.diff is None and snap.left.currentWidget() is snap.tree


def test_child_runs_tab_lists_the_children_submitted_with_the_sdk(qtbot, window, engine, submit, project,
                                                                   wait_status):
    parent = submit("--points", "2")
    wait_status(window, parent, "Completed")
    detail = window.show_run(parent)
    detail.show_tab("children")
    tab = detail.child_runs
    qtbot.waitUntil(lambda: tab.rows is not None, timeout=10_000)
    assert tab.names() == [] and tab.stack.currentWidget() is tab.empty
    assert "submit_child" in tab.empty.text.text()

    ws = Workspace(engine=engine)
    parent_run = SdkRun(Experiment(ws, "exp-a"), parent)
    child = parent_run.submit_child(ScriptRunConfig(source_directory=str(project), script="train.py",
                                                    arguments=["--points", "5"]))
    assert [r.id for r in parent_run.get_children()] == [child.id]
    assert child.parent is not None and child.parent.id == parent
    assert [r.name for r in engine.children(parent)] == [child.id]
    wait_status(window, child.id, "Completed")
    qtbot.waitUntil(lambda: tab.names() == [child.id], timeout=10_000)
    qtbot.waitUntil(lambda: tab.table.topLevelItem(0).text(1) == "Completed", timeout=10_000)
    assert detail.tabs.tabText(detail.tabs.indexOf(tab)) == "Child runs (1)"
    assert tab.summary.text() == "1 child run"
    qtbot.waitUntil(lambda: tab.table.topLevelItem(0).text(2).startswith("accuracy = "), timeout=10_000)

    item = tab.table.topLevelItem(0)
    with qtbot.waitSignal(detail.openRun, timeout=2_000) as opened:
        tab.table.itemActivated.emit(item, 0)
    assert opened.args == [child.id]

    # The child's Overview links back to its parent.
    child_detail = window.show_run(child.id)
    qtbot.waitUntil(lambda: parent in child_detail.overview.values["parent"].text(), timeout=10_000)
    assert child_detail.overview.values["parent"].isVisibleTo(child_detail.overview)
    with qtbot.waitSignal(child_detail.openRun, timeout=2_000) as opened:
        child_detail.overview.values["parent"].linkActivated.emit(f"run:{parent}")
    assert opened.args == [parent]


def test_a_distributed_runs_rank_logs_are_listed_after_rank_zero(tmp_path):
    from studio.rundetail.logtail import find_log_sources

    logs = tmp_path / "azureml-logs"
    logs.mkdir()
    for name in ("70_driver_log.txt", "70_driver_log_0.txt", "70_driver_log_1.txt", "70_driver_log_worker_2.txt"):
        (logs / name).write_text("x\n")
    sources = find_log_sources(tmp_path)
    assert [s.label for s in sources] == ["Driver log (stdout and stderr)", "Driver log, rank 0", "Driver log, rank 1",
                                           "Driver log, worker 2"]


def test_logs_tab_shows_when_each_line_was_written(qtbot, window, engine, tmp_path, wait_status):
    folder = tmp_path / "talk"
    folder.mkdir()
    (folder / "talk.py").write_text("import time\nprint('first', flush=True)\ntime.sleep(1.2)\n"
                                    "print('second', flush=True)\n")
    name = _run(engine, folder, "talk.py")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    detail.show_tab("logs")
    logs = detail.logs
    qtbot.waitUntil(lambda: "second" in logs.text() and logs.times.isVisibleTo(logs), timeout=15_000)
    lines = logs.text().split("\n")
    first, second = lines.index("first"), lines.index("second")
    narrow = logs.edit.gutter_width()
    logs.times.setChecked(True)
    assert logs.edit.gutter_width() > narrow  # the times take their own room before the numbers
    from engine.runs.lineclock import LineTimes
    from engine.runtime.files import RunFiles

    files = RunFiles(Path(engine.get_run(name).run_dir))
    log, times = files.driver_log.read_bytes(), LineTimes.read(files.driver_log_times)
    expected = [datetime.fromtimestamp(times.at(log.index(w))).strftime("%H:%M:%S.%f")[:-5]
                for w in (b"first", b"second")]
    qtbot.waitUntil(lambda: [logs.line_time(first), logs.line_time(second)] == expected, timeout=10_000)
    assert expected[0] < expected[1] or expected[1].startswith("00")  # (midnight)
    logs.times.setChecked(False)
    assert logs.edit.gutter_width() == narrow
