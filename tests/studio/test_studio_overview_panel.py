"""The Overview's right column: the status timeline with times and the key-metric sparklines."""

from __future__ import annotations

import re


def test_overview_shows_the_status_timeline_and_sparklines(qtbot, window, engine, submit, wait_status):
    name = submit("--points", "30")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    panel = detail.overview.summary
    qtbot.waitUntil(lambda: "loss" in panel.spark_widgets, timeout=10_000)
    rows = panel.timeline_text()
    statuses = [r.split()[0] for r in rows]
    history = [e.status for e in engine.get_run(name).status_history if e.status != "NotStarted"]
    assert statuses == history and statuses[0] == "Queued" and statuses[-1] == "Completed"
    assert "Running" in statuses
    assert all(re.search(r"\b\d\d:\d\d:\d\d\b", r) for r in rows)  # each with its time of day
    assert re.search(r"Running \d\d:\d\d:\d\d (<1s|\d+s)$", rows[statuses.index("Running")])  # and how long
    # losses first; the sparkline holds the metric's values and its last value is written beside it
    assert list(panel.spark_widgets) == ["loss", "accuracy"]
    _label, spark, last = panel.spark_widgets["loss"]
    assert len(spark.values) == 30 and last.text() == "0.03333"
    assert panel.spark_title.isVisibleTo(panel)
    assert "code_dir" not in detail.overview.values["properties"].text()
