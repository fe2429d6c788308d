"""A sweep's completed trials as parallel coordinates: one vertical axis per hyperparameter, by its
real values (a log scale for a loguniform-like parameter, a choice's values evenly spaced and
labelled), and a last axis for the primary metric; one line per completed trial, coloured by the
metric, the best trials brightest and drawn on top.

Each axis spans the search space's range where the space has one (else the values seen), so a
line's height says where in the range a trial was. Hovering a line names the trial in a tooltip
and thickens it; clicking it emits `trialClicked(name)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QPalette
from PySide6.QtWidgets import QToolTip

from studio.rundetail.sweepchart import axis_for
from studio.rundetail.trials import ChildRow, SweepInfo, finite_number, fmt_params
from studio.style import fmt_value

BEST_COLOR = QColor("#f2994a")
WORST_COLOR = QColor("#8e9aaf")
MID_COLOR = QColor("#3f8fd8")
HOVER_PX = 7  # how close (pixels, vertically) the pointer must be to a line to pick it


def choice_label(value: Any) -> str:
    return "None" if value is None else fmt_value(value) if finite_number(value) is not None else str(value)


@dataclass(frozen=True)
class PAxis:
    """One vertical axis: `low`/`high` are real values (for a choice, `categories` instead)."""

    name: str
    kind: str  # "linear" | "log" | "category"
    low: float = 0.0
    high: float = 1.0
    categories: tuple[str, ...] = ()

    def position(self, value: Any) -> float | None:
        """Where `value` sits on the axis, 0 (bottom) to 1 (top); None if it cannot be placed."""
        if self.kind == "category":
            label = choice_label(value)
            if label not in self.categories:
                return None
            n = len(self.categories)
            return 0.5 if n == 1 else self.categories.index(label) / (n - 1)
        x = finite_number(value)
        if x is None or (self.kind == "log" and x <= 0):
            return None
        lo, hi, x = (math.log10(self.low), math.log10(self.high), math.log10(x)) if self.kind == "log" \
            else (self.low, self.high, x)
        return 0.5 if hi <= lo else (x - lo) / (hi - lo)

    def ticks(self) -> list[tuple[float, str]]:
        """(position, label) of the axis's labelled ticks."""
        if self.kind == "category":
            return [(p, c) for c in self.categories if (p := self.position(c)) is not None]
        if self.high <= self.low:
            return [(0.5, fmt_value(self.low))]
        if self.kind == "log":
            lo, hi = math.log10(self.low), math.log10(self.high)
            decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
            step = max(1, math.ceil(len(decades) / 6))
            values = [10.0 ** e for e in decades[::step]]
            if len(values) < 2:
                values = [self.low, self.high]
        else:
            values = [self.low + (self.high - self.low) * k / 4 for k in range(5)]
        return [(p, fmt_value(v)) for v in values if (p := self.position(v)) is not None]


@dataclass(frozen=True)
class Line:
    name: str
    ys: tuple[float, ...]  # the trial's position on each axis, in axis order
    value: float  # the primary metric
    goodness: float  # 0 (worst) to 1 (best): its rank among the lines


def completed(rows: Sequence[ChildRow], params: Sequence[str]) -> list[ChildRow]:
    """The trials a line is drawn for: completed, with a finite metric and every parameter."""
    return [r for r in rows if r.run.status == "Completed" and r.value is not None and math.isfinite(r.value)
            and all(p in r.run.params for p in params)]


def build(info: SweepInfo, rows: Sequence[ChildRow]) -> tuple[list[PAxis], list[Line]]:
    """The axes (the parameters', then the metric's) and one line per completed trial."""
    done = completed(rows, info.params)
    axes: list[PAxis] = []
    for param in info.params:
        values = [r.run.params[param] for r in done]
        axis = axis_for(param, info, values)
        if axis.kind == "category" or info.kinds.get(param) == "choice":  # evenly spaced, in the file's order
            labels = dict.fromkeys(choice_label(v) for v in (*info.choices.get(param, ()), *values))
            axes.append(PAxis(param, "category", categories=tuple(labels)))
            continue
        numbers = [n for v in (*info.choices.get(param, ()), *values) if (n := finite_number(v)) is not None]
        if axis.kind == "log":
            numbers = [n for n in numbers if n > 0]
        bounds = info.bounds.get(param)
        if bounds is not None and (axis.kind != "log" or bounds[0] > 0):
            numbers += list(bounds)
        axes.append(PAxis(param, axis.kind, min(numbers, default=0.0), max(numbers, default=1.0)))
    metric_values = [float(r.value or 0.0) for r in done]
    axes.append(PAxis(info.metric or "metric", "linear", min(metric_values, default=0.0),
                      max(metric_values, default=1.0)))
    # Colour by rank, not by value: a few bad trials would otherwise paint every other one "best".
    ranked = sorted({float(r.value or 0.0) for r in done}, reverse=info.goal != "maximize")
    lines = []
    for r in done:
        value = float(r.value or 0.0)
        ys = [a.position(r.run.params[a.name]) for a in axes[:-1]] + [axes[-1].position(value)]
        if any(y is None for y in ys):
            continue
        goodness = 1.0 if len(ranked) == 1 else ranked.index(value) / (len(ranked) - 1)
        lines.append(Line(r.run.name, tuple(float(y or 0.0) for y in ys), value, goodness))
    return axes, lines


def line_color(goodness: float) -> QColor:
    """Worst: a faint grey-blue; middling: blue; best: orange, opaque."""
    a, b, t = (WORST_COLOR, MID_COLOR, goodness * 2) if goodness < 0.5 else (MID_COLOR, BEST_COLOR, goodness * 2 - 1)
    color = QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t, a.greenF() + (b.greenF() - a.greenF()) * t,
                            a.blueF() + (b.blueF() - a.blueF()) * t)
    color.setAlphaF(0.45 + 0.55 * goodness)
    return color


class ParallelChart(pg.PlotWidget):
    """`trialClicked(name)` when a trial's line is clicked."""

    trialClicked = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.axes: list[PAxis] = []
        self.lines: list[Line] = []
        self.curves: dict[str, pg.PlotCurveItem] = {}
        self._labels: list[pg.TextItem] = []
        self._tips: dict[str, str] = {}
        self._hovered: str | None = None
        self._selected: str | None = None
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        for side in ("left", "bottom"):
            item.hideAxis(side)
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.setMinimumHeight(240)
        self._apply_palette()

    # ------------------------------------------------------------ public
    def set_trials(self, info: SweepInfo, rows: Sequence[ChildRow]) -> None:
        self.axes, self.lines = build(info, rows)
        self._tips = {}
        for r in rows:
            bits = [r.run.name + ("  (best)" if r.run.name == info.best else "")]
            if r.value is not None:
                bits.append(f"{info.metric} {fmt_value(r.value)}")
            bits.append(fmt_params(r.run.params))
            self._tips[r.run.name] = "\n".join(bits)
        self._draw()

    def line_names(self) -> list[str]:
        return [line.name for line in self.lines]

    def trial_at(self, x: float, y: float, tolerance: float) -> str | None:
        """The trial whose line passes nearest (x, y) in view units, within `tolerance` vertically."""
        if not self.lines or len(self.axes) < 2 or not 0 <= x <= len(self.axes) - 1:
            return None
        i = min(int(x), len(self.axes) - 2)
        t = x - i
        best, gap = None, tolerance
        for line in sorted(self.lines, key=lambda ln: -ln.goodness):  # a tie goes to the better trial
            at = line.ys[i] + (line.ys[i + 1] - line.ys[i]) * t
            if abs(at - y) <= gap:
                best, gap = line.name, abs(at - y)
        return best

    @property
    def hovered(self) -> str | None:
        return self._hovered

    @property
    def selected(self) -> str | None:
        return self._selected

    def set_selected(self, name: str | None) -> None:
        self._selected = name
        self._restyle()

    # ------------------------------------------------------------ drawing
    def _draw(self) -> None:
        item = self.getPlotItem()
        item.clear()
        self.curves, self._labels = {}, []
        n = len(self.axes)
        for i, axis in enumerate(self.axes):
            spine = pg.PlotCurveItem([i, i], [0, 1], pen=pg.mkPen(self._muted, width=1))
            spine.setZValue(-5)
            item.addItem(spine)
            for pos, text in axis.ticks():
                tick = pg.PlotCurveItem([i - 0.015, i], [pos, pos], pen=pg.mkPen(self._muted, width=1))
                item.addItem(tick)
                self._label(text, i - 0.025, pos, (1, 0.5), self._text_color)
            title = axis.name + ("  (log)" if axis.kind == "log" else "")
            self._label(title, i, 1.04, (0.5, 1), self._text_color, bold=i == n - 1)
        for rank, line in enumerate(sorted(self.lines, key=lambda ln: ln.goodness)):
            curve = pg.PlotCurveItem(list(range(n)), list(line.ys))
            curve.setZValue(rank)  # the best on top
            item.addItem(curve)
            self.curves[line.name] = curve
        self._restyle()
        item.setXRange(-0.45, max(n - 1, 1) + 0.12, padding=0)
        item.setYRange(-0.06, 1.12, padding=0)

    def _label(self, text: str, x: float, y: float, anchor: tuple[float, float], color: QColor,
               bold: bool = False) -> None:
        # On a backdrop of the chart's colour: the lines pass behind the tick labels.
        label = pg.TextItem(text, color=color, anchor=anchor, fill=pg.mkBrush(self._backdrop))
        if bold:
            font = label.textItem.font()
            font.setBold(True)
            label.setFont(font)
        label.setPos(x, y)
        label.setZValue(1000)
        self.getPlotItem().addItem(label)
        self._labels.append(label)

    def _restyle(self) -> None:
        for line in self.lines:
            curve = self.curves.get(line.name)
            if curve is None:
                continue
            focus = line.name in (self._hovered, self._selected)
            color = QColor(self._text_color) if line.name == self._selected else line_color(line.goodness)
            if focus:
                color.setAlphaF(1.0)
            curve.setPen(pg.mkPen(color, width=3.2 if focus else 1.2 + 1.3 * line.goodness))
            curve.setZValue(10_000 if focus else curve.zValue() % 10_000)

    # ------------------------------------------------------------ the pointer
    def _pick(self, scene_pos: QPointF) -> str | None:
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        return self.trial_at(point.x(), point.y(), HOVER_PX * vb.viewPixelSize()[1])

    def _moved(self, scene_pos: QPointF) -> None:
        name = self._pick(scene_pos)
        if name != self._hovered:
            self._hovered = name
            self._restyle()
            if name is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(QCursor.pos(), self._tips.get(name, name), self)

    def _clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        name = self._pick(event.scenePos())
        if name is not None:
            self.trialClicked.emit(name)

    def _apply_palette(self) -> None:
        pal = self.palette()
        self._text_color = pal.color(QPalette.ColorRole.Text)
        self._muted = pal.color(QPalette.ColorRole.PlaceholderText)
        self.setBackground(pal.color(QPalette.ColorRole.Base))
        self._backdrop = QColor(pal.color(QPalette.ColorRole.Base))
        self._backdrop.setAlphaF(0.85)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "curves"):
            self._apply_palette()
            self._draw()
