"""The Runs, Experiments and Models pages, fed by the bridge from a real workspace."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from studio.browsers.runs import EMPTY_TEXT
from studio.models.runs import COL_STATUS


def _status_texts(page):
    proxy = page.proxy
    return {proxy.index(r, 0).data(): proxy.index(r, COL_STATUS).data() for r in range(proxy.rowCount())}


def test_runs_table_shows_submitted_runs_and_final_status(qtbot, window, submit, wait_status):
    ok = submit("--points", "20")
    bad = submit("--points", "5", "--fail")
    wait_status(window, ok, "Completed")
    wait_status(window, bad, "Failed")
    page = window.runs_page
    assert page.stack.currentWidget() is page.table
    assert _status_texts(page) == {ok: "Completed", bad: "Failed"}
    for r in range(page.proxy.rowCount()):
        assert not page.proxy.index(r, COL_STATUS).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert page.count_label.text() == "2 runs"
    assert window.active_label.text() == "0 active runs"


def test_filter_narrows_the_table(qtbot, window, submit, wait_status):
    a = submit("--points", "3", experiment="alpha")
    b = submit("--points", "3", experiment="beta")
    wait_status(window, a, "Completed")
    wait_status(window, b, "Completed")
    page = window.runs_page
    qtbot.keyClicks(page.filter_edit, "beta")
    assert page.proxy.rowCount() == 1
    assert page.run_at(0).name == b
    assert page.count_label.text() == "1 of 2 runs"
    page.filter_edit.setText("COMPLETED")  # any column, any case
    assert page.proxy.rowCount() == 2
    page.filter_edit.setText("no such run")
    assert page.proxy.rowCount() == 0


def test_double_click_opens_the_run_detail(qtbot, window, submit, wait_status):
    name = submit("--points", "3")
    wait_status(window, name, "Completed")
    table = window.runs_page.table
    rect = table.visualRect(window.runs_page.proxy.index(0, 0))
    # A real double click starts with a press: QTest's mouseDClick alone sends only the second one.
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.current_page() == "run")
    assert window.detail.name == name
    qtbot.waitUntil(window.detail.is_ready, timeout=10_000)
    window.detail.back_button.click()
    assert window.current_page() == "runs"
    window.show_run(name)
    nav = window.nav
    item = nav.item(1)
    qtbot.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=nav.visualItemRect(item).center())
    assert window.current_page() == "runs"


def test_cancel_from_the_runs_page(qtbot, window, submit, wait_status, tmp_path):
    name = submit("--hold", str(tmp_path / "never"))
    wait_status(window, name, "Running")
    assert window.active_label.text() == "1 active run"
    window.runs_page.cancel_run(name)
    wait_status(window, name, "Canceled")
    qtbot.waitUntil(lambda: window.active_label.text() == "0 active runs")


def test_empty_workspace_says_how_to_submit(qtbot, window):
    page = window.runs_page
    assert page.stack.currentWidget() is page.empty
    assert "File ▸ Open Project…" in page.empty.text.text() == EMPTY_TEXT
    assert window.active_label.text() == "0 active runs"
    assert str(window.engine.location.folder) == window.workspace_label.text()


def test_experiments_page_counts_runs(qtbot, window, submit, wait_status):
    names = [submit("--points", "2", experiment="alpha"), submit("--points", "2", experiment="alpha"),
             submit("--points", "2", experiment="beta")]
    for n in names:
        wait_status(window, n, "Completed")
    page = window.experiments_page
    window.show_page("experiments")

    def counts():
        m = page.proxy
        return {m.index(r, 0).data(): m.index(r, 1).data() for r in range(m.rowCount())}

    qtbot.waitUntil(lambda: counts() == {"alpha": "2", "beta": "1"})
    # Activating an experiment shows its runs.
    row = next(r for r in range(page.proxy.rowCount()) if page.proxy.index(r, 0).data() == "alpha")
    page.table.activated.emit(page.proxy.index(row, 0))
    assert window.current_page() == "runs"
    assert window.runs_page.filter_edit.text() == "alpha"
    assert window.runs_page.proxy.rowCount() == 2


def test_models_page_lists_registered_models(qtbot, window, engine, submit, wait_status):
    name = submit("--points", "2")
    wait_status(window, name, "Completed")
    engine.register_model("tiny", "outputs/model.bin", run_name=name)
    page = window.models_page
    window.show_page("models")
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=10_000)
    row = [page.proxy.index(0, c).data() for c in range(4)]
    assert row[:3] == ["tiny", "1", name]
    assert page.stack.currentWidget() is page.table
    page.table.activated.emit(page.proxy.index(0, 0))
    assert window.current_page() == "run" and window.detail.name == name


def test_table_model_upsert_keeps_rows_in_place(qtbot):
    from engine import entities as E
    from studio.models.runs import RunTableModel

    model = RunTableModel()
    r1 = E.Run("a", "x", "a", "Running", 1.0, "/tmp/a", start_time=1.0)
    r2 = E.Run("b", "x", "b", "Queued", 2.0, "/tmp/b")
    model.upsert([r1, r2])
    assert model.rowCount(QModelIndex()) == 2 and model.active_count == 2
    model.upsert([E.Run("a", "x", "a", "Completed", 1.0, "/tmp/a", start_time=1.0, end_time=3.0)])
    assert model.rowCount() == 2
    assert model.index(0, COL_STATUS).data() == "Completed"
    assert model.index(0, 5).data() == "2s"
    assert model.active_count == 1
