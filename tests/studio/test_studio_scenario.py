"""The whole story of the issue, as a user lives it: drop a project folder onto the window,
accept the pre-filled Submit dialog, and watch the run complete with every logged point on the
plots and the script's output in the Logs tab."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from studio.dialogs.submit import SubmitDialog


def _drop(window, folder) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()  # the window takes a folder
    window.dropEvent(QDropEvent(pos, Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def test_drop_a_project_submit_and_watch_the_run(qtbot, window, engine, tmp_path, make_project, wait_status):
    folder = make_project(tmp_path / "mnist-demo")
    _drop(window, folder)

    dialog = window.submit_dialog
    assert isinstance(dialog, SubmitDialog) and dialog.isVisible()
    qtbot.waitUntil(dialog.submit_button.isEnabled, timeout=10_000)
    # Pre-filled: nothing to type.
    assert dialog.script_combo.currentText() == "train.py"
    assert dialog.experiment_combo.currentText() == "mnist-demo"
    assert dialog.compute_combo.currentText() == "local"
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: window.detail is not None, timeout=30_000)
    detail = window.detail
    assert window.current_page() == "run"
    assert window.submit_dialog is None or not window.submit_dialog.isVisible()
    name = detail.name
    wait_status(window, name, "Completed")
    run = engine.get_run(name)
    assert run.experiment_name == "mnist-demo" and run.status == "Completed"

    detail.show_tab("metrics")
    qtbot.waitUntil(lambda: not detail.is_polling() and set(detail.metrics.plots) == {"loss", "accuracy"},
                    timeout=30_000)
    for key in ("loss", "accuracy"):
        stored = engine.metric_history(name, key)
        curve = detail.metrics.plots[key].curve
        assert len(stored) == (50 if key == "loss" else 5)  # what train.py logs by default
        assert np.array_equal(curve.xData, stored.steps) and np.array_equal(curve.yData, stored.values)

    detail.show_tab("logs")
    qtbot.waitUntil(lambda: "training finished" in detail.logs.text(), timeout=10_000)
    assert "hello from train.py" in detail.logs.text()
