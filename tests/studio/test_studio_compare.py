"""Compare: real runs overlaid on shared charts, the settings that differ, live growth."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import Qt

from studio.compare.view import CompareView
from studio.plots.controls import PlotOptions


@pytest.fixture
def compare(qtbot, window):
    views = []

    def _open(names: list[str]) -> CompareView:
        view = CompareView(window.engine, window.bridge, names)
        qtbot.addWidget(view)
        view.resize(1200, 760)
        view.show()
        views.append(view)
        qtbot.waitUntil(view.is_ready, timeout=10_000)
        return view

    yield _open
    for v in views:
        v.stop()


def _series_match(plot, name, stored) -> bool:
    if plot.point_count(name) != len(stored):
        return False
    curve = plot.curve_of(name)
    return np.array_equal(curve.xData, stored.steps) and np.array_equal(curve.yData, stored.values)


def test_overlays_each_runs_points_and_lists_what_differs(qtbot, engine, compare, submit, tmp_path):
    short = submit("--points", "30")
    long = submit("--points", "2500", experiment="exp-b")
    for name in (short, long):
        engine.wait(name, timeout=60)
    view = compare([short, long])

    qtbot.waitUntil(lambda: sorted(view.plots) == ["accuracy", "loss"], timeout=10_000)
    assert view.chosen_metrics() == ["accuracy", "loss"]  # the metrics both runs logged
    for key in ("loss", "accuracy"):
        plot = view.plots[key]
        for name in (short, long):
            stored = engine.metric_history(name, key)
            qtbot.waitUntil(lambda plot=plot, name=name, stored=stored: _series_match(plot, name, stored),
                            timeout=10_000)
        # Each run keeps its own colour, the one shown beside its name in the list of runs.
        assert plot.series[short].color != plot.series[long].color
        for curve in (plot.curve_of(short), plot.curve_of(long)):
            assert curve.opts["downsampleMethod"] == "peak" and curve.opts["autoDownsample"]
            assert curve.opts["clipToView"]

    rows = {r[0]: r[1:] for r in view.field_table()}
    assert rows == {"arguments": ["--points 30", "--points 2500"], "command": ["train.py --points 30",
                    "train.py --points 2500"], "experiment": ["exp-a", "exp-b"],  # only the differences
                    "metric: accuracy": ["0.6667", "0.996"], "metric: loss": ["0.03333", "4e-4"]}
    assert view.fields_summary.text() == "3 fields differ · 2 final metric values differ"
    # The second run's differing cells are tinted; the first run's (the reference) are not.
    m = view.fields_model
    for r in range(m.rowCount()):
        assert m.item(r, 2).background().style() != Qt.BrushStyle.NoBrush
        assert m.item(r, 1).background().style() == Qt.BrushStyle.NoBrush
    view.show_all.setChecked(True)
    rows = {r[0]: r[1:] for r in view.field_table()}
    assert rows["compute"][0] == rows["compute"][1] and len(rows) > 5
    same = next(r for r in range(m.rowCount()) if m.item(r, 0).text() == "compute")
    assert m.item(same, 2).background().style() == Qt.BrushStyle.NoBrush  # equal: not tinted
    assert view.fields_summary.text() == "3 fields differ · 2 final metric values differ"

    # Hovering reads out the nearest logged point of each run.
    points = view.plots["loss"].hover_at(10.2, 0.09)
    assert {p.series_id for p in points} == {short, long}
    assert all(p.step == 10 and p.value == pytest.approx(1 / 11) for p in points)

    # The shared toolbar applies to every chart.
    view.controls.set_options(PlotOptions(x_mode="relative", smoothing=0.6, log_y=True))
    for plot in view.plots.values():
        assert plot.options == PlotOptions("relative", 0.6, True)
    loss = view.plots["loss"]
    stamps = engine.metric_history(long, "loss").timestamps
    assert np.allclose(loss.raw_curve(long).xData, stamps - stamps[0])
    assert np.array_equal(loss.raw_curve(long).yData, engine.metric_history(long, "loss").values)
    view.grab().save(str(tmp_path / "compare.png"))
    if os.environ.get("TRAINYARD_SHOTS"):
        view.controls.set_options(PlotOptions())
        view.grab().save(os.path.join(os.environ["TRAINYARD_SHOTS"], "compare.png"))
        view.tabs.setCurrentIndex(1)
        view.grab().save(os.path.join(os.environ["TRAINYARD_SHOTS"], "compare-fields.png"))


def test_metric_picker_defaults_to_shared_metrics_and_grows_live(qtbot, engine, compare, submit, tmp_path):
    hold = tmp_path / "release"
    live = submit("--hold", str(hold))  # logs only "loss", until released
    done = submit("--points", "40")  # logs "loss" and "accuracy"
    engine.wait(done, timeout=60)
    view = compare([live, done])

    qtbot.waitUntil(lambda: "loss" in view.plots and view.plots["loss"].point_count(live) >= 5, timeout=30_000)
    assert view.chosen_metrics() == ["loss"]
    listed = {view.metric_list.item(i).text(): view.metric_list.item(i).checkState()
              for i in range(view.metric_list.count())}
    assert set(listed) == {"accuracy", "loss"}
    first = view.plots["loss"].point_count(live)
    qtbot.waitUntil(lambda: view.plots["loss"].point_count(live) > first, timeout=30_000)
    assert view.is_polling()

    # Ticking "accuracy" adds its chart, with the one run that logged it.
    view.choose_metrics(["accuracy", "loss"])
    qtbot.waitUntil(lambda: "accuracy" in view.plots and view.plots["accuracy"].point_count(done) == 4,
                    timeout=10_000)
    assert view.plots["accuracy"].series_ids() == [done]
    view.choose_metrics(["accuracy"])
    assert list(view.plots) == ["accuracy"]

    view.choose_metrics(["loss"])
    hold.write_text("")
    engine.wait(live, timeout=60)
    stored = engine.metric_history(live, "loss")
    qtbot.waitUntil(lambda: "loss" in view.plots and _series_match(view.plots["loss"], live, stored),
                    timeout=10_000)
    qtbot.waitUntil(lambda: not view.is_polling(), timeout=10_000)


def test_no_runs_shows_what_to_do(qtbot, window):
    view = CompareView(window.engine, window.bridge, [])
    qtbot.addWidget(view)
    view.show()
    assert view.stack.currentIndex() == 1
    assert "select two or more runs" in view.stack.currentWidget().text.text()


def test_runs_compared_against_another_metric_each_use_their_own(qtbot, engine, compare, make_project, tmp_path):
    """X axis ▸ epoch: every run's curve is drawn against that run's own epoch values (here one
    run counts epochs by 1, the other by 5), read even though epoch is not a chart here."""
    import textwrap

    from engine.jobs.spec import JobSpec

    folder = make_project(tmp_path / "epochs")
    (folder / "epochs.py").write_text(textwrap.dedent("""
        import sys
        from azureml.core import Run
        run = Run.get_context()
        every = int(sys.argv[1])
        for e in range(4):
            run.log("epoch", e * every)
            run.log("val_loss", 1.0 / (e + every))
    """))
    names = {}
    for every in (1, 5):
        run = engine.submit(JobSpec(experiment_name="epochs", code_dir=folder, script="epochs.py",
                                    arguments=(str(every),)))
        names[every] = run.name
        assert engine.wait(run.name, timeout=60).status == "Completed"
    view = compare([names[1], names[5]])
    view.choose_metrics(["val_loss"])
    qtbot.waitUntil(lambda: list(view.plots) == ["val_loss"]
                    and all(view.plots["val_loss"].point_count(n) == 4 for n in names.values()), timeout=10_000)
    combo = view.controls.x_mode
    items = [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(items.index("epoch"))
    plot = view.plots["val_loss"]
    qtbot.waitUntil(lambda: plot.curve_of(names[5]).xData.tolist() == [0, 5, 10, 15]
                    and plot.curve_of(names[1]).xData.tolist() == [0, 1, 2, 3], timeout=10_000)
    assert np.allclose(plot.curve_of(names[5]).yData, [1 / 5, 1 / 6, 1 / 7, 1 / 8])
    assert plot.getPlotItem().getAxis("bottom").labelText == "epoch"
    assert "epoch" not in view.plots
