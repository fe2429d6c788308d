"""The run detail: every logged point in the plots, live updates, logs and outputs."""

from __future__ import annotations

import numpy as np

from studio.rundetail.fetch import DRIVER_LOG_REL


def test_metric_plots_hold_exactly_the_logged_points(qtbot, window, engine, submit, wait_status):
    name = submit("--points", "1500")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    detail.show_tab("metrics")
    qtbot.waitUntil(lambda: not detail.is_polling(), timeout=30_000)
    assert sorted(detail.metrics.plots) == ["accuracy", "loss"]
    loss = detail.metrics.plots["loss"]
    x, y = loss.curve.xData, loss.curve.yData
    assert len(x) == len(y) == 1500
    stored = engine.metric_history(name, "loss")
    assert np.array_equal(x, stored.steps) and np.array_equal(y, stored.values)
    assert np.allclose(y, 1.0 / (np.arange(1500) + 1))
    assert len(detail.metrics.plots["accuracy"].curve.xData) == 150
    # Drawing may thin the curve; the data may not.
    assert loss.curve.opts["downsampleMethod"] == "peak" and loss.curve.opts["autoDownsample"]
    assert loss.curve.opts["clipToView"]


def test_metrics_update_live_while_the_run_is_active(qtbot, window, engine, submit, wait_status, tmp_path):
    hold = tmp_path / "release"
    name = submit("--hold", str(hold))
    detail = window.show_run(name)
    detail.show_tab("metrics")

    def plotted() -> int:
        plot = detail.metrics.plots.get("loss")
        return 0 if plot is None else plot.point_count()

    qtbot.waitUntil(lambda: plotted() >= 5, timeout=30_000)
    first = plotted()
    qtbot.waitUntil(lambda: plotted() > first, timeout=30_000)
    assert detail.run is not None and not detail.run.is_terminal
    assert detail.is_polling()
    hold.write_text("")
    wait_status(window, name, "Completed")
    qtbot.waitUntil(lambda: not detail.is_polling(), timeout=30_000)
    stored = engine.metric_history(name, "loss")
    assert plotted() == len(stored)
    # Appended batch by batch, the chart holds exactly the stored points, in order.
    curve = detail.metrics.plots["loss"].curve
    assert np.array_equal(curve.xData, stored.steps) and np.array_equal(curve.yData, stored.values)
    assert detail.status_label.text().endswith("Completed")


def test_logs_tab_shows_the_script_output(qtbot, window, submit, wait_status):
    name = submit("--points", "3", "--fail")
    detail = window.show_run(name)
    detail.show_tab("logs")
    qtbot.waitUntil(lambda: "something broke" in detail.logs.text(), timeout=30_000)
    text = detail.logs.text()
    assert text.index("hello from train.py") < text.index("something broke")
    assert detail.logs.current_source() == DRIVER_LOG_REL
    wait_status(window, name, "Failed")
    qtbot.waitUntil(lambda: detail.overview.values["exit_code"].text() == "3", timeout=10_000)


def test_outputs_and_overview(qtbot, window, submit, wait_status, project):
    name = submit("--points", "4")
    wait_status(window, name, "Completed")
    detail = window.show_run(name)
    detail.show_tab("outputs")  # the tab lists its files when it is shown
    qtbot.waitUntil(lambda: detail.outputs.files() == ["model.bin"], timeout=10_000)
    values = {k: v.text() for k, v in detail.overview.values.items()}
    assert values["command"] == "train.py --points 4"
    assert values["arguments"] == "--points 4"
    assert values["experiment"] == "exp-a"
    assert values["exit_code"] == "0"
    assert values["compute"].startswith("local")
    assert detail.run.snapshot_id and values["snapshot"].startswith(detail.run.snapshot_id[:16])
    assert not detail.overview.values["error"].isVisibleTo(detail.overview)
    assert detail.outputs.summary.text().startswith("1 file")
