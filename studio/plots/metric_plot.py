"""One scalar metric as a chart that stays fast with millions of points and many series.

Every point is kept in the curve's data; peak (min/max) downsampling and clip-to-view only decide
what is drawn, so a spike is never sampled away. (PlotItem.addItem resets both settings on a
curve, so they are set after the curve is added.) A chart holds one series for a run's metric,
or one series per run when runs are compared.
"""

from __future__ import annotations

import datetime as _dt
import html
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.plots.colors import SERIES_COLORS, series_color
from studio.plots.controls import PlotOptions
from studio.plots.pyramid import PyramidCurve
from studio.plots.series import Series, StepAxis
from studio.style import fmt_duration, fmt_number, fmt_value, plural

CURVE_COLOR = SERIES_COLORS[0]
DEFAULT_SERIES = ""  # the one series of a single run's chart (set_history)
ALL_SERIES = "\0all"  # set_step_axis: the axis of every series
# Below this many points each one is also drawn as a dot (a single value has no line to draw).
SYMBOLS_BELOW = 120
# Hover read-out lists at most this many series (the ones nearest the cursor).
HOVER_ROWS = 8
RAW_ALPHA = 60  # the raw curve behind a smoothed one
# Lines are drawn 2 px wide while a chart has few series; with more, 1 px (cosmetic) lines keep a
# frame of 100 overlaid runs several times cheaper to rasterise.
WIDE_LINES_UP_TO = 3
# Peak downsampling keeps a min and a max per block; about one block per pixel column draws the
# envelope of the data (pyqtgraph's default, 5 blocks per pixel, draws 5x the vertices for nothing).
# The pyramid (studio/plots/pyramid.py) rounds blocks down to a power of two, so 0.5 here gives
# 0.5-1 blocks per pixel: every spike still drawn, at most 2 px apart; 100 overlaid runs of 100k
# points fully zoomed out paint in ~29 ms at p95 instead of ~35 ms with 0.75-1.5.
BLOCKS_PER_PIXEL = 0.5
AXIS_LABELS = {"step": "step", "wall": "time", "relative": "seconds since the first point"}


@dataclass(frozen=True)
class HoverPoint:
    """The logged point of one series nearest the cursor."""

    series_id: str
    label: str
    color: str
    index: int
    step: int
    value: float
    smoothed: float | None
    x: float  # in the current x mode


class _Curves:
    def __init__(self, main: pg.PlotDataItem) -> None:
        self.main = main
        self.raw: pg.PlotDataItem | None = None  # only while smoothing is on
        self.symbols: bool | None = None  # None: not set on the curve yet


def _bound_by_full_data(item: pg.PlotDataItem) -> None:
    """Give the drawn curve the (cached) bounds of all its data instead of the visible slice's.

    With clip-to-view the drawn slice changes on every pan/zoom frame, and pyqtgraph then scans it
    again (min/max, several times per curve) for the curve's bounding rect: with 100 overlaid runs
    that was a third of a frame. The full data's bounds are computed once per data change, hold the
    slice, and make "auto range" show all the data. A range restricted to the other axis
    (auto-range of the visible part) still scans the slice.
    """
    curve = item.curve
    scan_slice = curve.dataBounds

    def data_bounds(ax: int, frac: float = 1.0, orthoRange: tuple[float, float] | None = None):
        mapped = item._datasetMapped  # the full data after the log mapping (pyqtgraph caches its rect)
        if mapped is None or frac != 1.0 or orthoRange is not None:
            return scan_slice(ax, frac, orthoRange)
        rect = mapped.dataRect()
        if rect is None:
            return (None, None)
        return (rect.left(), rect.right()) if ax == 0 else (rect.top(), rect.bottom())

    curve.dataBounds = data_bounds


class MetricPlot(pg.PlotWidget):
    def __init__(self, key: str, parent: QWidget | None = None, *, options: PlotOptions | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.options = options or PlotOptions()
        self.series: dict[str, Series] = {}
        self._curves: dict[str, _Curves] = {}
        self._single_point_range = False
        self._step_axes: dict[str, StepAxis | None] = {}  # per series; ALL_SERIES: the default
        item = self.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.showGrid(x=True, y=True, alpha=0.12)
        item.setMenuEnabled(True)
        item.setLogMode(y=self.options.log_y)
        self._set_bottom_axis(self.options.x_mode)
        # Hover read-out: a vertical line at the cursor, dots on the nearest points, a label.
        self._vline = pg.InfiniteLine(angle=90, movable=False)
        self._markers = pg.PlotDataItem(pen=None, symbol="o", symbolSize=8, symbolPen=pg.mkPen("w", width=1))
        self._label = pg.TextItem(anchor=(0, 0))
        for hover_item in (self._vline, self._markers, self._label):
            item.addItem(hover_item, ignoreBounds=True)
            hover_item.setZValue(100)
            hover_item.hide()
        self._hover: list[HoverPoint] = []
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.setMinimumHeight(240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._apply_palette()

    # ------------------------------------------------------------------ data
    @property
    def curve(self) -> pg.PlotDataItem:
        """The main curve of the first series (a single run's chart has only that one)."""
        if not self._curves:
            self._ensure(DEFAULT_SERIES, None, None)
        return next(iter(self._curves.values())).main

    def raw_curve(self, series_id: str = DEFAULT_SERIES) -> pg.PlotDataItem | None:
        """The faint curve of the logged values behind a smoothed one (None while not smoothing)."""
        return self._curves[series_id].raw

    def curve_of(self, series_id: str) -> pg.PlotDataItem:
        return self._curves[series_id].main

    def set_series(self, series_id: str, steps: np.ndarray, values: np.ndarray,
                   timestamps: np.ndarray | None = None, *, label: str | None = None,
                   color: str | None = None) -> None:
        """Show exactly these points as series `series_id` (replacing what it held)."""
        s = self._ensure(series_id, label, color)
        s.clear()
        s.extend(steps, values, timestamps)
        self._refresh(series_id)

    def append_series(self, series_id: str, steps: np.ndarray, values: np.ndarray,
                      timestamps: np.ndarray | None = None) -> None:
        """Add points after those series `series_id` already holds."""
        if len(values) == 0 and series_id in self.series:
            return
        s = self._ensure(series_id, None, None)
        s.extend(steps, values, timestamps)
        self._refresh(series_id)

    def remove_series(self, series_id: str) -> None:
        curves = self._curves.pop(series_id, None)
        self.series.pop(series_id, None)
        if curves is not None:
            self.getPlotItem().removeItem(curves.main)
            if curves.raw is not None:
                self.getPlotItem().removeItem(curves.raw)
            self._restyle_if_width_changed(len(self.series) + 1)
            self._update_title()

    def series_ids(self) -> list[str]:
        return list(self.series)

    def point_count(self, series_id: str | None = None) -> int:
        """Points held by one series, or by all of them."""
        if series_id is not None:
            s = self.series.get(series_id)
            return 0 if s is None else len(s)
        return sum(len(s) for s in self.series.values())

    def set_history(self, steps: np.ndarray, values: np.ndarray, timestamps: np.ndarray | None = None) -> None:
        """Show exactly these points (the whole history of the run's metric)."""
        self.set_series(DEFAULT_SERIES, steps, values, timestamps, label=self.key)

    def step_axis(self, series_id: str = ALL_SERIES) -> StepAxis | None:
        return self._step_axes.get(series_id, self._step_axes.get(ALL_SERIES))

    def set_step_axis(self, axis: StepAxis | None, series_id: str = ALL_SERIES) -> None:
        """The other metric the "metric" x mode plots against (PlotOptions.x_metric's points):
        for every series, or for one (each run of a comparison has its own)."""
        if series_id == ALL_SERIES:
            self._step_axes = {ALL_SERIES: axis}
        else:
            self._step_axes[series_id] = axis
        changed = [sid for sid in self.series if series_id in (ALL_SERIES, sid)]
        for sid in changed:
            self.series[sid].axis = axis
        if self.options.x_mode == "metric" and changed:
            for sid in changed:
                self._refresh(sid, title=False)
            self.getPlotItem().getViewBox().enableAutoRange()

    # ------------------------------------------------------------------ options
    def set_options(self, options: PlotOptions) -> None:
        old, self.options = self.options, options
        if options.smoothing != old.smoothing:
            for s in self.series.values():
                s.set_smoothing(options.smoothing)
        if options.x_mode != old.x_mode or options.x_metric != old.x_metric:
            self._set_bottom_axis(options.x_mode)
            self._style_axes()
        if options.log_y != old.log_y:
            self.getPlotItem().setLogMode(y=options.log_y)
        for sid in self.series:
            self._refresh(sid, title=False)
        if (options.x_mode, options.x_metric, options.log_y) != (old.x_mode, old.x_metric, old.log_y):
            self.getPlotItem().getViewBox().enableAutoRange()
        self._hide_hover()
        self._update_title()

    # ------------------------------------------------------------------ hover
    def hover_at(self, x: float, y: float | None = None) -> list[HoverPoint]:
        """Show the read-out for view position (x, y) and return its points, nearest first."""
        points = self._nearest_points(x, y)
        self._hover = points
        if not points:
            self._hide_hover()
            return points
        mode = self.options.x_mode
        shown_x = points[0].x
        self._vline.setPos(shown_x)
        self._markers.setData([p.x for p in points],
                              [p.smoothed if p.smoothed is not None else p.value for p in points],
                              symbolBrush=[pg.mkBrush(p.color) for p in points])
        rows = [f"<b>{html.escape(self._fmt_x(points[0], mode))}</b>"]
        for p in points:
            val = fmt_value(p.value)
            if p.smoothed is not None:
                val += f" <span style='color:{self._muted_color}'>(smoothed {fmt_value(p.smoothed)})</span>"
            name = f"{html.escape(p.label)}&nbsp;&nbsp;" if len(self.series) > 1 else ""
            rows.append(f"<span style='color:{p.color}'>●</span>&nbsp;{name}{val}")
        self._label.setHtml(f"<div style='color:{self._text_color}'>{'<br>'.join(rows)}</div>")
        view = self.getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = view.viewRange()
        cy = y if y is not None else (y0 + y1) / 2
        # Keep the label inside the chart: flip it to the left/below of the cursor near the edges.
        self._label.setAnchor((1.05 if shown_x > (x0 + x1) / 2 else -0.05, 0 if cy > (y0 + y1) / 2 else 1))
        self._label.setPos(shown_x, cy)
        for hover_item in (self._vline, self._markers, self._label):
            hover_item.show()
        return points

    def hover_text(self) -> str:
        """The read-out as plain text (empty when hidden)."""
        if not self._label.isVisible():
            return ""
        return self._label.textItem.toPlainText()

    def _nearest_points(self, x: float, y: float | None) -> list[HoverPoint]:
        mode = self.options.x_mode
        points = []
        for sid, s in self.series.items():
            i = s.nearest(mode, x)
            if i is None:
                continue
            smoothed = float(s.smoothed.view[i]) if s.smoothing > 0 else None
            points.append(HoverPoint(sid, s.label, s.color, i, int(s.steps.view[i]), float(s.values.view[i]),
                                     smoothed, float(s.x(mode)[i])))
        if not points:
            return points
        # The nearest in x first; with several series, those nearest the cursor's height first.
        points.sort(key=lambda p: abs(p.x - x))
        if y is not None and len(points) > 1:
            def height(p: HoverPoint) -> float:
                v = p.smoothed if p.smoothed is not None else p.value
                if self.options.log_y:
                    v = np.log10(v) if v > 0 else -np.inf
                return abs(v - y) if np.isfinite(v) else np.inf
            points.sort(key=height)
        return points[:HOVER_ROWS]

    def _fmt_x(self, p: HoverPoint, mode: str) -> str:
        if mode == "wall" and np.isfinite(p.x) and self.series[p.series_id].has_stamps:
            return f"{_dt.datetime.fromtimestamp(p.x):%Y-%m-%d %H:%M:%S} · step {p.step}"
        if mode == "relative" and self.series[p.series_id].has_stamps:
            return f"{fmt_duration(p.x)} after the first point · step {fmt_number(p.step)}"
        if mode == "metric" and self.options.x_metric:
            return f"{self.options.x_metric} {fmt_value(p.x)} · step {fmt_number(p.step)}"
        return f"step {p.step}"

    def _mouse_moved(self, pos: QPointF) -> None:
        view = self.getPlotItem().getViewBox()
        if not self.series or not view.sceneBoundingRect().contains(pos):
            self._hide_hover()
            return
        p = view.mapSceneToView(pos)
        self.hover_at(p.x(), p.y())

    def _hide_hover(self) -> None:
        self._hover = []
        for hover_item in (self._vline, self._markers, self._label):
            hover_item.hide()

    def leaveEvent(self, event: QEvent) -> None:  # type: ignore[override]
        super().leaveEvent(event)
        self._hide_hover()

    # ------------------------------------------------------------------ drawing
    def _ensure(self, series_id: str, label: str | None, color: str | None) -> Series:
        s = self.series.get(series_id)
        if s is None:
            s = self.series[series_id] = Series(series_id, label or series_id or self.key,
                                                color or series_color(len(self.series)))
            s.set_smoothing(self.options.smoothing)
            s.axis = self.step_axis(series_id)
            self._curves[series_id] = _Curves(self._new_curve(z=1))
            self._style(series_id)
            self._restyle_if_width_changed(len(self.series) - 1)
        else:
            changed = (label is not None and label != s.label) or (color is not None and color != s.color)
            s.label = label or s.label
            s.color = color or s.color
            if changed:
                self._style(series_id)
        return s

    def _new_curve(self, z: int) -> pg.PlotDataItem:
        curve = PyramidCurve()
        self.getPlotItem().addItem(curve)
        # After addItem: adding a curve to a PlotItem resets both settings on it.
        curve.setDownsampling(auto=True, method="peak")
        curve.setClipToView(True)
        curve.opts["autoDownsampleFactor"] = BLOCKS_PER_PIXEL
        curve.setZValue(z)
        _bound_by_full_data(curve)
        return curve

    def _line_width(self, n_series: int | None = None) -> int:
        return 2 if (len(self.series) if n_series is None else n_series) <= WIDE_LINES_UP_TO else 1

    def _restyle_if_width_changed(self, before: int) -> None:
        if self._line_width(before) != self._line_width():
            for sid in self.series:
                self._style(sid)

    def _style(self, series_id: str) -> None:
        s, c = self.series[series_id], self._curves[series_id]
        c.main.setPen(pg.mkPen(s.color, width=self._line_width()))
        if c.raw is not None:
            faint = QColor(s.color)
            faint.setAlpha(RAW_ALPHA)
            c.raw.setPen(pg.mkPen(faint, width=1))
        c.symbols = None  # _refresh sets the symbols again, in the new colour
        self._refresh(series_id, title=False)

    def _refresh(self, series_id: str, *, title: bool = True) -> None:
        s, c = self.series[series_id], self._curves[series_id]
        mode = self.options.x_mode
        x, y, raw_y = s.x(mode), s.shown, s.values.view
        if mode == "metric" and s.axis is not None:
            # Against another metric: the points in the order of its values (a line from left to
            # right, as clip-to-view needs), those before its first value left out.
            order = np.argsort(x, kind="stable")
            order = order[np.isfinite(x[order])]
            x, y, raw_y = x[order], y[order], raw_y[order]
        smoothing = s.smoothing > 0
        symbols = len(s) < SYMBOLS_BELOW and not smoothing
        if symbols != c.symbols:
            c.symbols = symbols
            if symbols:
                c.main.setSymbol("o")
                c.main.setSymbolSize(6)
                c.main.setSymbolBrush(s.color)
                c.main.setSymbolPen(None)
            else:
                c.main.setSymbol(None)
        c.main.setData(x, y)
        if smoothing:
            if c.raw is None:
                c.raw = self._new_curve(z=0)
                faint = QColor(s.color)
                faint.setAlpha(RAW_ALPHA)
                c.raw.setPen(pg.mkPen(faint, width=1))
            c.raw.setData(x, raw_y)
        elif c.raw is not None:
            self.getPlotItem().removeItem(c.raw)
            c.raw = None
        if len(s) <= 1 or self._single_point_range:
            self._single_point_layout()
        if title:
            self._update_title()

    def _single_point_layout(self, s: Series | None = None, x: np.ndarray | None = None) -> None:
        """Frame charts whose series hold one point each (a learning rate logged once per run):
        auto-range around lone points gives a meaningless scale, so centre them instead."""
        view = self.getPlotItem().getViewBox()
        lone = [sr for sr in self.series.values() if len(sr)]
        if lone and all(len(sr) == 1 for sr in lone) and not self.options.log_y:
            xs = np.array([float(sr.x(self.options.x_mode)[0]) for sr in lone])
            ys = np.array([float(sr.values.view[0]) for sr in lone])
            if np.isfinite(ys).all() and np.isfinite(xs).all():
                y_lo, y_hi = float(ys.min()), float(ys.max())
                pad = (y_hi - y_lo) * 0.15 or abs(y_hi) * 0.1 or 1.0
                x_pad = (float(xs.max()) - float(xs.min())) * 0.1 or 1.0
                view.setRange(xRange=(xs.min() - x_pad, xs.max() + x_pad), yRange=(y_lo - pad, y_hi + pad),
                              padding=0)
                self._single_point_range = True
                return
        if self._single_point_range and not view.autoRangeEnabled()[0]:
            view.enableAutoRange()
        self._single_point_range = False

    def _set_bottom_axis(self, mode: str) -> None:
        item = self.getPlotItem()
        want_date = mode == "wall"
        if isinstance(item.getAxis("bottom"), pg.DateAxisItem) != want_date:
            axis = pg.DateAxisItem(orientation="bottom") if want_date else pg.AxisItem(orientation="bottom")
            item.setAxisItems({"bottom": axis})
            if hasattr(self, "_text_color"):
                self._style_axes()

    def _style_axes(self) -> None:
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            # Grid lines at the labelled ticks only: pyqtgraph's minor-tick grid cost more per
            # pan/zoom frame than drawing 100 curves, and a lighter grid reads better.
            axis.setStyle(maxTickLevel=0)
            axis.setPen(pg.mkPen(QColor(self._muted_color)))
            axis.setTextPen(pg.mkPen(QColor(self._text_color)))
        label = self.options.x_metric if self.options.x_mode == "metric" else AXIS_LABELS[self.options.x_mode]
        item.setLabel("bottom", label, color=self._muted_color)

    def _apply_palette(self) -> None:
        """Colours from the widget palette, so the plot follows the light or dark theme."""
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        self._text_color = pal.color(QPalette.ColorRole.Text).name()
        self._muted_color = pal.color(QPalette.ColorRole.PlaceholderText).name()
        self.setBackground(base)
        self._style_axes()
        self._vline.setPen(pg.mkPen(QColor(self._muted_color), width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
        fill = QColor(base)
        fill.setAlpha(225)
        self._label.fill = pg.mkBrush(fill)
        self._label.border = pg.mkPen(QColor(self._muted_color))
        self._markers.setSymbolPen(pg.mkPen(base, width=1.5))
        self._update_title()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # (The base class changes roles while it is being built, before the hover items exist.)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_markers"):
            self._apply_palette()

    def _update_title(self) -> None:
        title = f"<span style='color:{self._text_color};font-weight:600'>{html.escape(self.key)}</span>"
        muted = f"&nbsp;&nbsp;<span style='color:{self._muted_color}'>"
        if len(self.series) == 1:
            s = next(iter(self.series.values()))
            if len(s):
                title += (f"{muted}{html.escape(fmt_value(float(s.values.view[-1])))}"
                          f" at step {int(s.steps.view[-1])} · {plural(len(s), 'point')}</span>")
        elif self.series:
            title += f"{muted}{plural(len(self.series), 'run')} · {plural(self.point_count(), 'point')}</span>"
        self.setTitle(title, size="10.5pt")
