"""A run's display name, tags and description edited where they are shown: inline in the Runs
table (F2, typing, Enter) and in the Edit dialog; saved to the store through the engine, and a
malformed tag says which pair is wrong and saves nothing."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QMessageBox

from studio.dialogs.editrun import EditRunDialog
from studio.models.runs import COL_NAME, COL_TAGS

LOAD_MS = 20_000


def _edit_cell(qtbot: Any, page: Any, row: int, col: int, text: str) -> None:
    """What a user does: select the cell, F2, select all, type, Enter."""
    ix = page.model.index(row, col)
    page.table.setCurrentIndex(ix)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit), editor
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def test_rename_and_tag_inline_then_describe_in_the_dialog(qtbot, engine, window, submit):
    name = submit("--points", "3")
    engine.wait(name, timeout=60)
    page = window.runs_page
    window.show_page("runs")
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=LOAD_MS)
    row = page.model.row_of(name)

    _edit_cell(qtbot, page, row, COL_NAME, "baseline lr 0.1")
    qtbot.waitUntil(lambda: engine.get_run(name).display_name == "baseline lr 0.1", timeout=LOAD_MS)
    qtbot.waitUntil(
        lambda: page.model.index(page.model.row_of(name), COL_NAME).data() == "baseline lr 0.1",
        timeout=LOAD_MS,
    )

    _edit_cell(qtbot, page, page.model.row_of(name), COL_TAGS, "stage=dev, model = mlp")
    qtbot.waitUntil(lambda: engine.get_run(name).tags == {"stage": "dev", "model": "mlp"}, timeout=LOAD_MS)
    qtbot.waitUntil(
        lambda: (
            page.model.index(page.model.row_of(name), COL_TAGS).data()
            in ("stage=dev, model=mlp", "model=mlp, stage=dev")
        ),
        timeout=LOAD_MS,
    )
    # The search finds it by its new tag (the store has it).
    page.filter_edit.setText("tags.stage = 'dev'")
    qtbot.waitUntil(
        lambda: page.model.rowCount() == 1 and page.run_at(0) is not None and page.run_at(0).name == name,
        timeout=LOAD_MS,
    )
    page.filter_edit.clear()
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=LOAD_MS)

    # A tag that is not key=value: the error names the pair, the store keeps the old tags.
    rejected: list[Exception] = []
    page.model.editRejected.connect(rejected.append)
    _edit_cell(qtbot, page, page.model.row_of(name), COL_TAGS, "stage=prod, oops")
    qtbot.waitUntil(lambda: bool(rejected), timeout=LOAD_MS)
    assert "tags, pair 2: 'oops' is not key=value" in rejected[0].message
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert len(boxes) == 1 and "'oops' is not key=value" in boxes[0].text()
    boxes[0].close()
    assert engine.get_run(name).tags == {"stage": "dev", "model": "mlp"}

    # The dialog edits all three; Save stays disabled while a tag line is wrong.
    dialog = EditRunDialog(page.model.get(name), page)
    qtbot.addWidget(dialog)
    assert dialog.name_edit.text() == "baseline lr 0.1"
    dialog.tags_edit.setPlainText("stage=prod\nnot a tag")
    save = dialog.buttons.button(dialog.buttons.StandardButton.Save)
    assert not save.isEnabled() and "tags, line 2" in dialog.error.text()
    dialog.tags_edit.setPlainText("stage=prod\nmodel=mlp")
    dialog.description_edit.setPlainText("the first baseline; lr too high")
    dialog.name_edit.clear()  # empty: back to the run's own name
    assert save.isEnabled()
    assert dialog.changes() == {
        "display_name": name,
        "description": "the first baseline; lr too high",
        "tags": {"stage": "prod", "model": "mlp"},
    }
    page.save_edit(name, dialog.changes())
    qtbot.waitUntil(
        lambda: engine.get_run(name).description == "the first baseline; lr too high", timeout=LOAD_MS
    )
    run = engine.get_run(name)
    assert run.display_name == name and run.tags == {"stage": "prod", "model": "mlp"}
    qtbot.waitUntil(
        lambda: page.model.index(page.model.row_of(name), COL_NAME).data() == name, timeout=LOAD_MS
    )
    assert dialog.result() != QDialog.DialogCode.Accepted  # (it was driven, not accepted)


def test_a_row_refreshed_while_typing_keeps_the_typed_text(qtbot, engine, window, submit):
    """The store reports the run again (a status tick, another window's edit) while the user is
    typing in its Tags cell: what they typed is what Enter saves."""
    name = submit("--points", "3")
    engine.wait(name, timeout=60)
    page = window.runs_page
    window.show_page("runs")
    qtbot.waitUntil(lambda: page.model.row_of(name) is not None, timeout=LOAD_MS)
    ix = page.model.index(page.model.row_of(name), COL_TAGS)
    page.table.setCurrentIndex(ix)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit), editor
    qtbot.keyClicks(editor, "stage=typed")
    page.model.upsert([engine.get_run(name)])  # the row is reported again, unchanged
    assert editor.text() == "stage=typed"
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: engine.get_run(name).tags == {"stage": "typed"}, timeout=LOAD_MS)
