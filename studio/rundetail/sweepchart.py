"""A sweep's primary metric against each hyperparameter: a compact row of scatter charts above
the trials table (the Child runs tab of a sweep run).

One chart per hyperparameter, one point per finished trial, coloured by what became of it
(completed, stopped early, failed); the best trial is a star. Choice parameters with text values
sit on an indexed axis labelled with the choices (points of one choice spread a little so that
none hides another); loguniform-like parameters on a log axis. Hovering a point names the trial;
clicking it emits `trialClicked(name)`, which the tab turns into selecting the trial's row.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from studio.rundetail.trials import ChildRow, SweepInfo, finite_number, fmt_params, stopped_early
from studio.style import STATUS_COLORS, fmt_value
from studio.widgets import scroll_area

HEIGHT = 172  # the charts; with the title row above them about 190 px
PLOT_MIN_WIDTH = 230
BEST_COLOR = "#f2994a"
COLORS = {"completed": STATUS_COLORS["Completed"], "stopped early": STATUS_COLORS["Canceled"],
          "failed": STATUS_COLORS["Failed"], "canceled": STATUS_COLORS["Canceled"]}
LOG_KINDS = frozenset({"loguniform", "qloguniform", "lognormal", "qlognormal"})
JITTER = 0.22  # points of one choice spread over ±this around the choice's index


@dataclass(frozen=True)
class Point:
    name: str
    x: float  # in axis units: the value, its log10 on a log axis, or the choice's index (+ spread)
    y: float
    outcome: str  # completed | stopped early | failed | canceled


def outcome(run: Any) -> str:
    return "stopped early" if stopped_early(run) else str(run.status).lower()


@dataclass(frozen=True)
class Axis:
    """How one hyperparameter is laid out on x."""

    kind: str  # "category" | "log" | "linear"
    categories: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None  # in axis units: the search space's range, shown whole


def axis_for(param: str, info: SweepInfo, values: Sequence[Any]) -> Axis:
    choices = info.choices.get(param, ())
    every = [*choices, *values]
    if any(finite_number(v) is None for v in every if v is not None):
        labels = list(dict.fromkeys(_label(v) for v in every))
        return Axis("category", tuple(labels))
    numbers = [n for v in every if (n := finite_number(v)) is not None]
    positive = bool(numbers) and min(numbers) > 0
    spread = positive and max(numbers) / min(numbers) >= 100
    bounds = info.bounds.get(param)
    if positive and (info.kinds.get(param) in LOG_KINDS or (info.kinds.get(param) == "choice" and spread)):
        ok = bounds is not None and bounds[0] > 0 and bounds[1] > bounds[0]
        return Axis("log", bounds=(math.log10(bounds[0]), math.log10(bounds[1])) if bounds and ok else None)
    return Axis("linear", bounds=bounds if bounds and bounds[1] > bounds[0] else None)


def _label(value: Any) -> str:
    return "None" if value is None else str(value)


def chart_points(param: str, info: SweepInfo, rows: Sequence[ChildRow]) -> tuple[Axis, list[Point]]:
    """The finished trials with a value of the metric, placed on `param`'s axis."""
    done = [r for r in rows if r.run.is_terminal and r.value is not None and math.isfinite(r.value)
            and param in r.run.params]
    axis = axis_for(param, info, [r.run.params[param] for r in done])
    points: list[Point] = []
    if axis.kind == "category":
        by_choice: dict[str, list[ChildRow]] = {}
        for r in done:
            by_choice.setdefault(_label(r.run.params[param]), []).append(r)
        for label, group in by_choice.items():
            index = axis.categories.index(label)
            for k, r in enumerate(sorted(group, key=lambda r: r.run.created_at)):
                offset = 0.0 if len(group) == 1 else -JITTER + 2 * JITTER * k / (len(group) - 1)
                points.append(Point(r.run.name, index + offset, float(r.value or 0.0), outcome(r.run)))
    else:
        for r in done:
            x = finite_number(r.run.params[param])
            if x is None or (axis.kind == "log" and x <= 0):
                continue
            points.append(Point(r.run.name, math.log10(x) if axis.kind == "log" else x, float(r.value or 0.0),
                                outcome(r.run)))
    return axis, points


class _ParamPlot(pg.PlotWidget):
    def __init__(self, param: str, metric: str, first: bool, clicked: Any) -> None:
        super().__init__()
        self.param = param
        self.axis = Axis("linear")
        self.points: list[Point] = []
        self._tips: dict[str, str] = {}
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)  # a wheel over the row scrolls the tab, never zooms
        item.showGrid(x=True, y=True, alpha=0.12)
        item.getViewBox().setDefaultPadding(0.08)
        self._metric = metric
        self._first = first
        tip = self._tip
        self.scatter = pg.ScatterPlotItem(size=8, hoverable=True, tip=tip, hoverSize=11)
        self.best = pg.ScatterPlotItem(size=17, symbol="star", hoverable=True, tip=tip)
        self.ring = pg.ScatterPlotItem(size=15, brush=None)
        self.ring.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        for z, scatter in enumerate((self.scatter, self.best, self.ring)):
            item.addItem(scatter)
            scatter.setZValue(10 + z)
        for scatter in (self.scatter, self.best):
            scatter.sigClicked.connect(lambda _item, pts, _ev: pts and clicked(pts[0].data()))
        self.setMinimumWidth(PLOT_MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._apply_palette()

    def _tip(self, x: float, y: float, data: Any) -> str:
        return self._tips.get(data, str(data))

    def set_points(self, axis: Axis, points: list[Point], tips: dict[str, str], best: str | None) -> None:
        self.axis, self.points, self._tips = axis, points, tips
        item = self.getPlotItem()
        bottom = item.getAxis("bottom")
        bottom.setLogMode(axis.kind == "log")
        if axis.kind == "category":
            bottom.setTicks([[(i, c) for i, c in enumerate(axis.categories)]])
            item.setXRange(-0.5, len(axis.categories) - 0.5, padding=0)
        elif axis.bounds is not None:
            bottom.setTicks(None)
            item.setXRange(*axis.bounds, padding=0.04)
        else:
            bottom.setTicks(None)
            item.enableAutoRange(x=True)
        item.enableAutoRange(y=True)
        spots = [{"pos": (p.x, p.y), "data": p.name, "brush": pg.mkBrush(COLORS.get(p.outcome, "#9aa0a6")),
                  "pen": pg.mkPen(self._base, width=1)} for p in points]
        self.scatter.setData(spots)
        top = [p for p in points if p.name == best]
        self.best.setData([{"pos": (p.x, p.y), "data": p.name} for p in top],
                          brush=pg.mkBrush(BEST_COLOR), pen=pg.mkPen(self._base, width=1))

    def set_selected(self, name: str | None) -> None:
        chosen = [p for p in self.points if p.name == name]
        self.ring.setData([p.x for p in chosen], [p.y for p in chosen], data=[p.name for p in chosen],
                          pen=pg.mkPen(self._text, width=1.5), brush=None)

    def _apply_palette(self) -> None:
        pal = self.palette()
        self._base = pal.color(QPalette.ColorRole.Base)
        self._text = pal.color(QPalette.ColorRole.Text)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        self.setBackground(self._base)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(maxTickLevel=0)
            axis.enableAutoSIPrefix(False)  # "val_loss (x0.001)" reads worse than 0.25
            axis.setPen(pg.mkPen(muted))
            axis.setTextPen(pg.mkPen(self._text))
        item.setLabel("bottom", self.param, color=self._text.name())
        if self._first:
            item.setLabel("left", self._metric, color=muted.name())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "ring"):
            self._apply_palette()
            self.set_points(self.axis, self.points, self._tips, None)


class SweepChart(QWidget):
    """`trialClicked(name)` when a trial's point is clicked."""

    trialClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, _ParamPlot] = {}
        self._layout_key: tuple[Any, ...] = ()
        self._outcomes: set[str] = set()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        top = QHBoxLayout()
        self.title = QLabel()
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.legend)
        lay.addLayout(top)
        self.area = scroll_area(horizontal=True)
        self.area.setFixedHeight(HEIGHT)
        self._body = QWidget()
        self._row = QHBoxLayout(self._body)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(10)
        self.area.setWidget(self._body)
        lay.addWidget(self.area)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._update_legend()

    def set_trials(self, info: SweepInfo, rows: Sequence[ChildRow]) -> None:
        key = (info.params, info.metric)
        if key != self._layout_key:
            self._layout_key = key
            for plot in self.plots.values():
                self._row.removeWidget(plot)
                plot.deleteLater()
            self.plots = {}
            for i, param in enumerate(info.params):
                plot = _ParamPlot(param, info.metric, i == 0, self.trialClicked.emit)
                self.plots[param] = plot
                self._row.addWidget(plot, 1)
                plot.show()  # (a widget added to a shown one stays hidden until told)
        tips = {r.run.name: self._tip(r, info) for r in rows}
        outcomes: set[str] = set()
        for param, plot in self.plots.items():
            axis, points = chart_points(param, info, rows)
            plot.set_points(axis, points, tips, info.best)
            outcomes |= {p.outcome for p in points}
        self.title.setText(f"{info.metric} by hyperparameter" if info.metric else "By hyperparameter")
        self._outcomes = outcomes | ({"best"} if info.best else set())
        self._update_legend()

    def point_names(self, param: str) -> list[str]:
        """The trials charted against `param`, in the order they were drawn."""
        return [p.name for p in self.plots[param].points]

    def set_selected(self, name: str | None) -> None:
        for plot in self.plots.values():
            plot.set_selected(name)

    @staticmethod
    def _tip(row: ChildRow, info: SweepInfo) -> str:
        bits = [row.run.name + ("  (best)" if row.run.name == info.best else "")]
        if row.value is not None:
            bits.append(f"{info.metric} {fmt_value(row.value)}")
        bits.append(fmt_params(row.run.params))
        what = outcome(row.run)
        bits.append(what[0].upper() + what[1:])
        return "\n".join(bits)

    def _update_legend(self) -> None:
        """What the colours mean: only those on the charts (completed and best always)."""
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        for label in (self.title,):
            label.setStyleSheet(f"color: {muted}")
        dot = "<span style='color:{}'>{}</span>&nbsp;<span style='color:{}'>{}</span>"
        entries = [(COLORS[k], "●", k) for k in ("completed", "stopped early", "canceled", "failed")
                   if k == "completed" or k in self._outcomes]
        entries.append((BEST_COLOR, "★", "best"))
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(dot.format(color, sym, muted, html.escape(text))
                                                      for color, sym, text in entries))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "legend"):
            self._update_legend()
