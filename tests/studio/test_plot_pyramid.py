"""The min/max pyramid behind the charts' decimation draws the same envelope as the data: every spike
in view is drawn, the newest points (a partial last block) are drawn, and few vertices are drawn."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from studio.plots.metric_plot import MetricPlot

N = 100_003  # not a power of two: the last block is partial


@pytest.fixture
def plot(qtbot):
    p = MetricPlot("loss")
    qtbot.addWidget(p)
    p.resize(800, 400)
    p.show()
    qtbot.waitExposed(p)
    return p


def drawn(plot: MetricPlot) -> tuple[np.ndarray, np.ndarray]:
    QApplication.processEvents()
    shown = plot.curve_of("r")._getDisplayDataset()
    return np.asarray(shown.x), np.asarray(shown.y)


@pytest.mark.parametrize("x_kind", ["steps", "wall"])
def test_every_spike_in_view_is_drawn_at_every_zoom(plot, x_kind):
    rng = np.random.default_rng(3)
    values = rng.normal(size=N)
    spikes = {1234: 50.0, 77_777: -60.0, N - 1: 70.0}  # the very last point is a spike too
    for i, v in spikes.items():
        values[i] = v
    steps = np.arange(N)
    stamps = 1_700_000_000 + steps * 0.25
    plot.set_series("r", steps, values, stamps)
    if x_kind == "wall":
        from studio.plots.controls import PlotOptions

        plot.set_options(PlotOptions(x_mode="wall"))
    xs_all = steps if x_kind == "steps" else stamps.astype(float)
    view = plot.getPlotItem().getViewBox()
    for lo, hi in [(0, N), (0, N // 3), (1000, 1500), (70_000, 90_000), (N - 5000, N), (N - 30, N + 10)]:
        x0, x1 = float(xs_all[lo]), float(xs_all[min(hi, N) - 1])
        view.setXRange(x0, x1, padding=0)
        _xs, ys = drawn(plot)
        inside = (xs_all >= x0) & (xs_all <= x1)
        assert ys.max() >= values[inside].max()
        assert ys.min() <= values[inside].min()
        for i, v in spikes.items():
            if x0 <= xs_all[i] <= x1:
                assert v in ys, (lo, hi, i)
        # Every drawn value is a real logged value, never an invented or interpolated one.
        assert np.isin(ys, values).all()
        assert len(ys) <= 4 * 800 + 8
    assert plot.point_count() == N


def test_appended_points_show_up_at_once_when_zoomed_out(plot):
    steps = np.arange(50_000)
    values = np.sin(steps / 500.0)
    plot.set_series("r", steps, values, None)
    view = plot.getPlotItem().getViewBox()
    view.setXRange(0, 60_000, padding=0)
    drawn(plot)
    plot.append_series("r", np.array([50_000, 50_001]), np.array([9.0, -9.0]), None)
    view.setXRange(0, 60_001, padding=0)
    _, ys = drawn(plot)
    assert 9.0 in ys and -9.0 in ys
