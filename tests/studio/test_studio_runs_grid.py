"""The Runs page as an analysis grid: the query box in MLflow's search syntax (evaluated by the
store), saved views, the Type column and the visible run actions (Clone & edit submits a
changed run). Every run here is a real run of the fixture project's train.py."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.browsers import runviews
from studio.models.runs import COL_NAME, COL_TYPE

RUN_MS = 60_000


def _names(page) -> set[str]:
    m = page.model
    return {m.index(r, COL_NAME).data() for r in range(m.rowCount())}


def _three_runs(submit, engine, window, wait_status) -> dict[str, str]:
    runs = {
        "dev_low": submit("--points", "20"),
        "dev_high": submit("--points", "2"),
        "prod_low": submit("--points", "10"),
    }  # latest loss 0.05, 0.5, 0.1
    for key, name in runs.items():
        wait_status(window, name, "Completed")
        engine.set_tags(name, {"stage": key.split("_")[0]})
    return runs


def test_the_query_box_searches_in_mlflow_syntax_and_says_what_is_wrong(
    qtbot, window, engine, submit, wait_status
):
    runs = _three_runs(submit, engine, window, wait_status)
    window.show_page("runs")
    page = window.runs_page
    assert {page.model.index(r, COL_TYPE).data() for r in range(page.model.rowCount())} == {"command"}
    qtbot.keyClicks(page.filter_edit, "metrics.loss < 0.3 and tags.stage = 'dev'")
    qtbot.waitUntil(lambda: _names(page) == {runs["dev_low"]}, timeout=10_000)
    assert not page.query_error.isVisible()
    assert page.count_label.text() == "1 of 3 runs"

    page.filter_edit.setText("metrics.loss < 'low'")
    qtbot.waitUntil(page.query_error.isVisible, timeout=10_000)
    assert "column 16" in page.query_error.text() and "compare it with a number" in page.query_error.text()

    # a saved view brings back its query and its metric columns
    runviews.delete_view("low loss")
    runviews.save_view("low loss", "metrics.loss <= 0.1", ["loss"])
    page.views_menu.aboutToShow.emit()
    action = next(a for a in page.views_menu.actions() if a.text() == "low loss")
    action.trigger()
    qtbot.waitUntil(lambda: _names(page) == {runs["dev_low"], runs["prod_low"]}, timeout=10_000)
    assert not page.query_error.isVisible()
    assert page.model.metric_columns() == ["loss"]
    runviews.delete_view("low loss")


def test_clone_and_edit_opens_the_submit_dialog_filled_and_submits_a_changed_run(
    qtbot, window, engine, submit, wait_status
):
    original = submit("--points", "5", experiment="clone-source")
    wait_status(window, original, "Completed")
    window.show_page("runs")
    page = window.runs_page
    qtbot.waitUntil(lambda: page.model.row_of(original) is not None, timeout=10_000)
    page.select_names([original])
    actions = page.run_actions
    assert actions["clone"].isEnabled() and actions["rerun"].isEnabled() and actions["archive"].isEnabled()
    assert not actions["cancel"].isEnabled()  # it has ended
    qtbot.mouseClick(page.action_button("clone"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: window.submit_dialog is not None and not window.submit_dialog.is_scanning(), timeout=10_000
    )
    dialog = window.submit_dialog
    assert dialog.windowTitle() == f"Clone {original}"
    assert dialog.script_combo.currentText() == "train.py"
    assert dialog.arguments_edit.text() == "--points 5"
    assert dialog.experiment_combo.currentText() == "clone-source"
    assert dialog.compute_combo.currentData() == "local"

    dialog.arguments_edit.setText("--points 7")
    dialog.experiment_combo.setEditText("cloned")
    qtbot.waitUntil(dialog.submit_button.isEnabled, timeout=10_000)
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.name != original, timeout=RUN_MS)
    clone = window.detail.name
    wait_status(window, clone, "Completed")
    run = engine.get_run(clone)
    assert run.arguments == ("--points", "7") and run.experiment_name == "cloned"
    assert len(engine.metric_history(clone, "loss").values) == 7  # the changed run really ran
    assert engine.get_run(original).arguments == ("--points", "5")  # the original is untouched
