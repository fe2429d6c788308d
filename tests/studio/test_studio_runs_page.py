"""The Runs, Experiments and Models pages, fed by the store and the bridge of a real workspace."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu

from engine.errors import NotFound
from engine.jobs.spec import JobSpec
from studio.browsers.runs import SETTINGS_KEY, settings
from studio.dialogs.register_model import RegisterModelDialog
from studio.models.runs import COL_DURATION, COL_EXPERIMENT, COL_NAME, COL_STATUS, COL_TAGS, COLUMNS, RUN_ROLE


def _rows(page, col=COL_STATUS):
    m = page.model
    return {m.index(r, COL_NAME).data(): m.index(r, col).data() for r in range(m.rowCount())}


def _names(page):
    m = page.model
    return [m.index(r, COL_NAME).data() for r in range(m.rowCount())]


def _settle(qtbot, page):
    qtbot.waitUntil(page.is_ready, timeout=10_000)


def test_runs_table_shows_submitted_runs_and_final_status(qtbot, window, submit, wait_status):
    ok = submit("--points", "20")
    bad = submit("--points", "5", "--fail")
    wait_status(window, ok, "Completed")
    wait_status(window, bad, "Failed")
    page = window.runs_page
    qtbot.waitUntil(lambda: _rows(page) == {ok: "Completed", bad: "Failed"}, timeout=10_000)
    assert page.stack.currentWidget() is page.table
    for r in range(page.model.rowCount()):
        assert not page.model.index(r, COL_STATUS).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert page.count_label.text() == "2 runs"
    assert window.active_label.text() == "0 active runs"
    assert [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))] == list(COLUMNS)


def test_filter_goes_to_the_store(qtbot, window, submit, wait_status):
    a = submit("--points", "3", experiment="alpha")
    b = submit("--points", "3", experiment="beta")
    wait_status(window, a, "Completed")
    wait_status(window, b, "Completed")
    page = window.runs_page
    qtbot.keyClicks(page.filter_edit, "beta")
    qtbot.waitUntil(lambda: _names(page) == [b], timeout=5_000)
    assert page.run_at(0).name == b
    assert page.count_label.text() == "1 of 2 runs"
    page.filter_edit.setText("COMPLETED")  # status too, any case
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=5_000)
    page.filter_edit.setText("no such run")
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=5_000)
    assert page.count_label.text() == "0 of 2 runs"
    assert page.stack.currentWidget() is page.table  # an empty result, not "no runs yet"


def test_clicking_headers_sorts_in_the_store(qtbot, window, engine, project, submit, wait_status, tmp_path):
    def tagged(experiment, tags, *args):
        spec = JobSpec(experiment_name=experiment, code_dir=project, script="train.py",
                       arguments=("--points", "2", *args), tags=tags)
        return engine.submit(spec).name

    # Tags sort by their JSON text: {"team": "a"} before {"team": "b"}; runs without tags last.
    bravo = tagged("bravo", {"team": "b"})
    charlie = tagged("charlie", {})
    alpha = tagged("alpha", {"team": "a"})
    failed = tagged("delta", {}, "--fail")
    release = tmp_path / "release"
    running = submit("--hold", str(release), experiment="echo")
    for n in (bravo, charlie, alpha):
        wait_status(window, n, "Completed")
    wait_status(window, failed, "Failed")
    wait_status(window, running, "Running")
    page = window.runs_page
    _settle(qtbot, page)
    header = page.table.horizontalHeader()

    def click(col):
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(header.sectionViewportPosition(col) + 10, header.height() // 2))

    def column(col):
        return [page.model.index(r, col).data() for r in range(page.model.rowCount())]

    def in_order(col, ascending):
        """The rows follow the indicator: `ascending` in ascending order, reversed in descending."""
        return column(col) == (ascending if header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
                               else ascending[::-1])

    try:
        click(COL_EXPERIMENT)
        experiments = ["alpha", "bravo", "charlie", "delta", "echo"]
        qtbot.waitUntil(lambda: header.sortIndicatorSection() == COL_EXPERIMENT
                        and in_order(COL_EXPERIMENT, experiments), timeout=5_000)
        first = column(COL_EXPERIMENT)
        click(COL_EXPERIMENT)
        qtbot.waitUntil(lambda: column(COL_EXPERIMENT) == first[::-1], timeout=5_000)

        # Lifecycle order, not alphabetical: Running, then Completed before Failed.
        lifecycle = ["Running"] + ["Completed"] * 3 + ["Failed"]
        before = column(COL_STATUS)
        click(COL_STATUS)
        qtbot.waitUntil(lambda: header.sortIndicatorSection() == COL_STATUS and in_order(COL_STATUS, lifecycle),
                        timeout=5_000)
        assert column(COL_STATUS) != before
        after = column(COL_STATUS)
        click(COL_STATUS)
        qtbot.waitUntil(lambda: column(COL_STATUS) == after[::-1] and in_order(COL_STATUS, lifecycle),
                        timeout=5_000)

        # The store sorts by tags too: by the rows, not only the indicator.
        click(COL_TAGS)
        qtbot.waitUntil(lambda: page.model.query.sort == "tags" and header.sortIndicatorSection() == COL_TAGS,
                        timeout=5_000)
        names = {"ascending": [alpha, bravo], "descending": [bravo, alpha]}

        def tag_order():
            order = "ascending" if header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder else "descending"
            return _names(page)[:2] == names[order] and set(_names(page)[2:]) == {charlie, failed, running}

        qtbot.waitUntil(tag_order, timeout=5_000)
        shown = _names(page)[:2]
        click(COL_TAGS)
        qtbot.waitUntil(lambda: _names(page)[:2] == shown[::-1] and tag_order(), timeout=5_000)
    finally:
        release.write_text("")
    wait_status(window, running, "Completed")


def test_selected_runs_can_be_compared(qtbot, window, submit, wait_status):
    names = [submit("--points", "2") for _ in range(3)]
    for n in names:
        wait_status(window, n, "Completed")
    page = window.runs_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 3 and page.run_at(2) is not None, timeout=10_000)
    assert not page.compare_button.isEnabled()
    table = page.table
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(page.model.index(0, 0)).center())
    assert not page.compare_button.isEnabled()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     pos=table.visualRect(page.model.index(2, 0)).center())
    assert page.compare_button.isEnabled()
    with qtbot.waitSignal(page.compareRequested) as got:
        page.compare_button.click()
    assert got.args[0] == [page.run_at(0).name, page.run_at(2).name]


def test_archive_hides_a_run_and_show_archived_brings_it_back(qtbot, window, engine, submit, wait_status):
    keep = submit("--points", "2")
    gone = submit("--points", "2")
    wait_status(window, keep, "Completed")
    wait_status(window, gone, "Completed")
    page = window.runs_page
    qtbot.waitUntil(lambda: set(_names(page)) == {keep, gone}, timeout=10_000)
    page.set_archived([gone])
    qtbot.waitUntil(lambda: _names(page) == [keep], timeout=10_000)
    assert page.count_label.text() == "1 run"
    assert engine.get_run(gone).status == "Completed"  # still there
    page.archived_box.setChecked(True)
    qtbot.waitUntil(lambda: set(_names(page)) == {keep, f"{gone} (archived)"}, timeout=10_000)
    assert page.model.is_archived(gone)
    page.set_archived([gone], False)
    qtbot.waitUntil(lambda: set(_names(page)) == {keep, gone}, timeout=10_000)
    page.archived_box.setChecked(False)
    qtbot.waitUntil(lambda: set(_names(page)) == {keep, gone} and page.model.is_ready(), timeout=10_000)


def test_rerun_completes_with_the_same_metrics(qtbot, window, engine, submit, wait_status):
    first = submit("--points", "30")
    wait_status(window, first, "Completed")
    page = window.runs_page
    with qtbot.waitSignal(page.model.rowsInserted, timeout=10_000):
        op = page.rerun(first)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    again = next(r.name for r in page.model.runs() if r.name != first)
    assert op is not None and window.runs_model.get(again).properties["rerun_of"] == first
    wait_status(window, again, "Completed")
    qtbot.waitUntil(lambda: _rows(page).get(again) == "Completed", timeout=10_000)
    assert _names(page)[0] == again
    a, b = engine.metric_history(first, "loss"), engine.metric_history(again, "loss")
    assert len(b) == 30 and b.values.tolist() == a.values.tolist()
    assert engine.latest_metrics(again) == engine.latest_metrics(first)


def test_download_outputs_and_register_model(qtbot, window, engine, submit, wait_status, tmp_path):
    name = submit("--points", "2")
    wait_status(window, name, "Completed")
    page = window.runs_page
    dest = tmp_path / "downloads"
    page.download_outputs(name, dest)
    qtbot.waitUntil((dest / name / "outputs" / "model.bin").is_file, timeout=10_000)
    assert (dest / name / "outputs" / "model.bin").stat().st_size == 1234
    qtbot.waitUntil(lambda: "Downloaded the outputs" in window.statusBar().currentMessage(), timeout=5_000)

    from studio.dialogs.register_model import RegisterModelDialog

    dialog = RegisterModelDialog(engine.get_run(name), page)
    assert dialog.model_name() == "exp-a" and dialog.path() == "outputs"
    dialog.name_edit.setText("bad name!")
    assert not dialog.buttons.buttons()[0].isEnabled()
    dialog.name_edit.setText("tiny-net")
    dialog.path_edit.setText("outputs/model.bin")
    page.register_model(name, dialog.model_name(), dialog.path())
    window.show_page("models")
    qtbot.waitUntil(lambda: window.models_page.proxy.rowCount() == 1, timeout=10_000)
    model = engine.store.get_model("tiny-net")
    assert model.run_name == name and model.version == 1


def test_metric_columns_show_latest_values_and_are_remembered(qtbot, window, engine, submit, wait_status):
    settings().remove(SETTINGS_KEY)
    name = submit("--points", "20")
    wait_status(window, name, "Completed")
    page = window.runs_page
    _settle(qtbot, page)
    page._load_metric_keys()
    qtbot.waitUntil(lambda: page._metric_keys == ["accuracy", "loss"], timeout=10_000)
    page.columns_menu.aboutToShow.emit()
    # (the menu's Parameters section is empty: train.py logs none)
    assert [a.text() for a in page.columns_menu.actions() if a.isCheckable()] == ["accuracy", "loss"]
    next(a for a in page.columns_menu.actions() if a.text() == "loss").setChecked(True)
    col = len(COLUMNS)
    assert page.model.headerData(col, Qt.Orientation.Horizontal) == "loss"
    qtbot.waitUntil(lambda: page.model.index(0, col).data() == f"{1 / 20:.4g}", timeout=10_000)
    assert settings().value(SETTINGS_KEY) == ["loss"]
    page.show_metric_column("loss", False)
    assert page.model.columnCount() == len(COLUMNS)
    assert settings().value(SETTINGS_KEY) in ([], None)


def test_a_metric_column_sorts_runs_by_their_latest_value(qtbot, window, engine, submit, wait_status):
    settings().remove(SETTINGS_KEY)
    names = {points: submit("--points", str(points)) for points in (4, 50, 10)}  # last loss = 1/points
    for n in names.values():
        wait_status(window, n, "Completed")
    page = window.runs_page
    _settle(qtbot, page)
    page._load_metric_keys()
    qtbot.waitUntil(lambda: "loss" in page._metric_keys, timeout=10_000)
    page.show_metric_column("loss", True)
    col = len(COLUMNS)
    header = page.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(col) + 10, header.height() // 2))

    def order():
        return [page.model.index(r, 0).data(RUN_ROLE).name for r in range(3)]

    lowest_first = [names[50], names[10], names[4]]
    qtbot.waitUntil(lambda: order() in (lowest_first, lowest_first[::-1]), timeout=5_000)
    first = order()
    assert header.sortIndicatorSection() == col
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(col) + 10, header.height() // 2))
    qtbot.waitUntil(lambda: order() == first[::-1], timeout=5_000)
    page.show_metric_column("loss", False)
    settings().remove(SETTINGS_KEY)


def test_context_menu_actions_act_on_the_run(qtbot, window, engine, submit, wait_status, monkeypatch, tmp_path):
    name = submit("--points", "2")
    other = submit("--points", "2")
    live = submit("--hold", str(tmp_path / "never"))
    wait_status(window, name, "Completed")
    wait_status(window, other, "Completed")
    wait_status(window, live, "Running")
    page = window.runs_page
    qtbot.waitUntil(lambda: set(_names(page)) == {name, other, live} and page.run_at(2) is not None,
                    timeout=10_000)
    menus = []
    monkeypatch.setattr(QMenu, "popup", lambda menu, _pos, _at=None: menus.append(menu))

    def menu_on(run):
        """The context menu of `run`'s row, as a right click opens it: its actions by label."""
        row = page.model.row_of(run)
        page._context_menu(page.table.visualRect(page.model.index(row, 0)).center())
        return {a.text(): a for a in menus.pop().actions() if not a.isSeparator()}

    actions = menu_on(name)
    assert list(actions) == ["Open", "Compare 1 runs", "Cancel", "Re-run", "Clone && edit…", "Rename", "Edit tags",
                             "Edit name, description and tags…", "Open run folder", "Download outputs…",
                             "Register model…", "Open in TensorBoard", "Archive"]
    assert not actions["Cancel"].isEnabled() and not actions["Compare 1 runs"].isEnabled()
    assert page.selected_names() == [name]  # the menu acts on the row clicked

    with qtbot.waitSignal(page.openRun) as opened:
        actions["Open"].trigger()
    assert opened.args == [name]

    opened_urls = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened_urls.append(url.toLocalFile()) or True)
    menu_on(name)["Open run folder"].trigger()
    assert opened_urls == [engine.get_run(name).run_dir]

    dest = tmp_path / "downloads"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_args, **_kw: str(dest))
    menu_on(name)["Download outputs…"].trigger()
    qtbot.waitUntil((dest / name / "outputs" / "model.bin").is_file, timeout=10_000)

    monkeypatch.setattr(RegisterModelDialog, "exec", lambda _self: QDialog.DialogCode.Accepted)
    menu_on(name)["Register model…"].trigger()  # the dialog's defaults: the experiment's name, outputs

    def registered():
        try:
            return engine.store.get_model("exp-a")
        except NotFound:
            return None

    qtbot.waitUntil(lambda: registered() is not None, timeout=10_000)
    assert registered().run_name == name

    menu_on(live)["Cancel"].trigger()
    wait_status(window, live, "Canceled")

    menu_on(name)["Re-run"].trigger()
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=10_000)
    again = next(r.name for r in page.model.runs() if r.name not in (name, other, live))
    assert window.runs_model.get(again).properties["rerun_of"] == name
    wait_status(window, again, "Completed")

    page.select_names([name, other])
    actions = menu_on(other)
    assert actions["Compare 2 runs"].isEnabled() and "Archive 2 runs" in actions
    assert "Open 2 runs in TensorBoard" in actions
    with qtbot.waitSignal(page.compareRequested) as compared:
        actions["Compare 2 runs"].trigger()
    assert sorted(compared.args[0]) == sorted([name, other])

    actions["Archive 2 runs"].trigger()
    qtbot.waitUntil(lambda: set(_names(page)) == {live, again}, timeout=10_000)
    page.archived_box.setChecked(True)
    qtbot.waitUntil(lambda: page.model.is_archived(name) and page.run_at(3) is not None, timeout=10_000)
    menu_on(name)["Unarchive"].trigger()
    page.archived_box.setChecked(False)
    qtbot.waitUntil(lambda: set(_names(page)) == {name, live, again}, timeout=10_000)


def test_double_click_opens_the_run_detail(qtbot, window, submit, wait_status):
    name = submit("--points", "3")
    wait_status(window, name, "Completed")
    table = window.runs_page.table
    qtbot.waitUntil(lambda: window.runs_page.run_at(0) is not None, timeout=10_000)
    rect = table.visualRect(window.runs_page.model.index(0, 0))
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
    page = window.runs_page
    qtbot.waitUntil(lambda: _rows(page).get(name) == "Running", timeout=10_000)
    before = page.model.index(0, COL_DURATION).data()
    qtbot.waitUntil(lambda: page.model.index(0, COL_DURATION).data() != before, timeout=5_000)  # ticks
    page.cancel_run(name)
    wait_status(window, name, "Canceled")
    qtbot.waitUntil(lambda: window.active_label.text() == "0 active runs")
    qtbot.waitUntil(lambda: _rows(page).get(name) == "Canceled", timeout=10_000)


def test_empty_workspace_welcomes_and_one_click_runs_the_example_live(qtbot, window):
    page = window.runs_page
    _settle(qtbot, page)
    assert page.stack.currentWidget() is page.empty  # the welcome page
    assert window.active_label.text() == "0 active runs"
    assert str(window.engine.location.folder) == window.workspace_label.text()
    welcome = page.empty
    assert welcome.cli.text().startswith("trainyard job create -f ") and welcome.cli.text().endswith("job.yml --stream")
    assert welcome.open_button.isEnabled()
    qtbot.mouseClick(welcome.example_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    name = window.detail.name
    assert window.current_page() == "run"
    run = window.engine.get_run(name)
    assert run.experiment_name == "cifar-pytorch" and not run.is_terminal  # opened while it runs
    qtbot.waitUntil(lambda: window.engine.get_run(name).is_terminal, timeout=180_000)  # PyTorch training
    assert window.engine.get_run(name).status == "Completed", window.engine.get_run(name).error
    accuracy = window.engine.metric_history(name, "val/accuracy").values
    assert len(accuracy) == 6 and accuracy[-1] > accuracy[0]  # the example learns


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
    qtbot.waitUntil(lambda: window.runs_page.model.rowCount() == 2, timeout=5_000)


def test_models_page_lists_registered_models(qtbot, window, engine, submit, wait_status):
    name = submit("--points", "2")
    wait_status(window, name, "Completed")
    engine.register_model("tiny", "outputs/model.bin", run_name=name)
    page = window.models_page
    window.show_page("models")
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 1, timeout=10_000)
    row = [page.proxy.index(0, c).data() for c in range(4)]
    assert row[:3] == ["tiny", "1", name]
    assert page.stack.currentWidget() is not page.empty
    page.table.activated.emit(page.proxy.index(0, 0))
    assert window.current_page() == "run" and window.detail.name == name


def test_bridge_reports_update_loaded_rows_in_place(qtbot, engine):
    """Without a store change the model shows what the bridge reports for a row it has loaded."""
    from engine import entities as E
    from studio.models.runs import RunTableModel

    engine.store.create_run(name="a", experiment_name="x", run_dir="/tmp/a")
    engine.store.create_run(name="b", experiment_name="x", run_dir="/tmp/b")
    model = RunTableModel(engine=engine)
    qtbot.waitUntil(model.is_ready, timeout=5_000)
    assert model.rowCount(QModelIndex()) == 2
    model.index(0, 0).data()  # a paint asks for the block: it is already loaded with the count
    row = model.row_of("a")
    changed = []
    model.dataChanged.connect(lambda tl, br, roles=(): changed.append(tl.row()))
    model.upsert([E.Run("a", "x", "a", "Running", 1.0, "/tmp/a", start_time=1.0)])
    assert changed == [row] and model.index(row, COL_STATUS).data() == "Running"
    assert model.active_count == 1 and model.get("a").status == "Running"
