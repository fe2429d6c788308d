"""Charts out of the studio: the right-click menu of a chart saves it as a PNG and its points as
CSV — every logged point of every run in the chart (not the downsampled curve), as stored."""

from __future__ import annotations

import csv

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from studio.compare.view import CompareView


def test_a_compare_chart_saves_as_png_and_csv(qtbot, window, engine, submit, tmp_path, monkeypatch):
    a = submit("--points", "30")
    b = submit("--points", "700")
    for name in (a, b):
        engine.wait(name, timeout=60)
    view = CompareView(engine, window.bridge, [a, b])
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    qtbot.waitUntil(view.is_ready, timeout=15_000)
    qtbot.waitUntil(
        lambda: (
            "loss" in view.plots
            and view.plots["loss"].point_count(b) == 700
            and view.plots["loss"].point_count(a) == 30
        ),
        timeout=15_000,
    )
    plot = view.plots["loss"]
    actions = {act.text(): act for act in plot.getPlotItem().getViewBox().menu.actions()}
    assert {"Save chart as PNG…", "Save data as CSV…"} <= set(actions)

    # What a user does: the menu item, a file name in the dialog (the suffix is added).
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(tmp_path / "loss"), ""))
    actions["Save data as CSV…"].trigger()
    with (tmp_path / "loss.csv").open() as f:
        rows = list(csv.DictReader(f))
    for name in (a, b):
        stored = engine.metric_history(name, "loss")
        mine = [r for r in rows if r["series"] == name]
        assert [int(r["step"]) for r in mine] == list(stored.steps)
        assert [float(r["value"]) for r in mine] == list(stored.values)  # exact, not rounded
        assert [float(r["timestamp"]) for r in mine] == list(stored.timestamps)
    assert len(rows) == 730

    actions["Save chart as PNG…"].trigger()
    image = QImage(str(tmp_path / "loss.png"))
    assert not image.isNull() and image.width() == plot.width() and image.height() == plot.height()

    # A folder that cannot be written: said in a message, no traceback.
    shown = []
    monkeypatch.setattr("studio.plots.export.show_error", lambda _w, exc: shown.append(exc))
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(tmp_path / "missing" / "loss.csv"), "")
    )
    actions["Save data as CSV…"].trigger()
    assert shown and "cannot write" in shown[0].message and "missing" in shown[0].message
    view.stop()
