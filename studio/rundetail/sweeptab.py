"""The Sweep analysis tab of a sweep run: its completed trials as parallel coordinates
(studio/rundetail/parallel.py) and each hyperparameter's importance for the primary metric
(engine/sweeps/importance.py, studio/rundetail/importancechart.py).

Both are read and computed off the GUI thread when the tab is shown and again whenever the bridge
reports a change to the sweep or one of its trials (a trial finishing adds its line and updates
the importance). Importance is computed again only when the set of completed trials changed.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from engine import entities as E
from engine.sweeps.importance import MIN_TRIALS, Importance, param_importances
from studio.rundetail.importancechart import ImportanceChart
from studio.rundetail.parallel import BEST_COLOR, WORST_COLOR, ParallelChart, completed, line_color
from studio.rundetail.sweepchart import LOG_KINDS
from studio.rundetail.trials import Children, load_children
from studio.style import fmt_value, heading, muted, plural
from studio.tasks import Reloader
from studio.widgets import EmptyState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepAnalysis:
    children: Children
    done: tuple[str, ...]  # the completed trials the importance was computed from
    importance: Importance | None


def load_analysis(engine: Any, name: str, previous: SweepAnalysis | None) -> SweepAnalysis:
    """The sweep's trials and, when the completed ones changed since `previous`, their importance."""
    children = load_children(engine, name)
    info = children.sweep
    done = completed(children.rows, info.params) if info is not None else []
    key = tuple(sorted(r.run.name for r in done))
    if previous is not None and previous.done == key:
        return SweepAnalysis(children, key, previous.importance)
    importance = None
    if info is not None and info.params:
        logs = {p for p in info.params if info.kinds.get(p) in LOG_KINDS}
        importance = param_importances([(r.run.params, r.value) for r in done], logs)
    return SweepAnalysis(children, key, importance)


class SweepTab(QWidget):
    """`openRun(name)` when the clicked trial's link is followed."""

    openRun = Signal(str)

    def __init__(self, engine: Any, bridge: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.analysis: SweepAnalysis | None = None
        engine = self.engine
        self.reloader = Reloader(self, lambda: load_analysis(engine, name, self.analysis), self._loaded, self._failed)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(6)
        top = QHBoxLayout()
        self.title = heading("Trials", 1.1)
        self.legend = muted(QLabel())
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.legend)
        lay.addLayout(top)
        self.parallel = ParallelChart()
        self.parallel.trialClicked.connect(self.select)
        self.no_lines = EmptyState("No completed trials yet", "")
        self.lines_stack = QStackedWidget()
        self.lines_stack.addWidget(self.parallel)
        self.lines_stack.addWidget(self.no_lines)
        self.lines_stack.setCurrentWidget(self.no_lines)
        lay.addWidget(self.lines_stack, 5)
        self.picked = muted(QLabel("Hover a line to name its trial; click it to pick it."))
        self.picked.setTextFormat(Qt.TextFormat.RichText)
        self.picked.linkActivated.connect(lambda href: self.openRun.emit(href.removeprefix("run:")))
        lay.addWidget(self.picked)
        lay.addSpacing(8)
        imp_top = QHBoxLayout()
        imp_top.addWidget(heading("Parameter importance", 1.1))
        self.method = muted(QLabel())
        imp_top.addWidget(self.method, 1)
        lay.addLayout(imp_top)
        self.importance = ImportanceChart()
        self.no_importance = EmptyState("Too few completed trials", "")
        self.importance_stack = QStackedWidget()
        self.importance_stack.addWidget(self.importance)
        self.importance_stack.addWidget(self.no_importance)
        self.importance_stack.setCurrentWidget(self.no_importance)
        lay.addWidget(self.importance_stack, 1)
        bridge.runsChanged.connect(self._runs_changed)

    # ---------------------------------------------------------------- public
    def select(self, name: str) -> None:
        """Pick trial `name`: its line stands out and the caption names it, with a link to open it."""
        self.parallel.set_selected(name)
        row = next((r for r in self.analysis.children.rows if r.run.name == name), None) if self.analysis else None
        info = self.analysis.children.sweep if self.analysis else None
        if row is None or info is None:
            return
        bits = [f"<a href='run:{html.escape(name)}'>{html.escape(name)}</a>"]
        if row.value is not None:
            bits.append(f"{html.escape(info.metric)} {fmt_value(row.value)}")
        bits += [f"{html.escape(k)}={html.escape(fmt_value(v))}" for k, v in row.run.params.items()]
        self.picked.setText(" · ".join(bits) + ("  ★ best" if name == info.best else ""))

    def refresh(self) -> None:
        self.reloader.refresh()

    # ---------------------------------------------------------------- updates
    def _runs_changed(self, runs: list[E.Run]) -> None:
        if any(r.parent_name == self.name or r.name == self.name for r in runs):
            self.reloader.changed()

    def _failed(self, exc: BaseException) -> None:
        log.warning("analysing the trials of sweep %s failed: %s", self.name, exc)

    def _loaded(self, analysis: SweepAnalysis) -> None:
        self.analysis = analysis
        info, rows = analysis.children.sweep, analysis.children.rows
        if info is None:
            return
        metric = info.metric or "the primary metric"
        self.parallel.set_trials(info, rows)
        lines = self.parallel.lines
        self.lines_stack.setCurrentWidget(self.parallel if lines else self.no_lines)
        self.no_lines.text.setText(
            f"Each completed trial becomes a line through its hyperparameters to its {metric}. "
            + ("Trials appear here as they complete; the Child runs tab shows the running ones."
               if info.running else "This sweep ended without a completed trial: see the Child runs tab for why."))
        self.title.setText(f"{plural(len(lines), 'completed trial')} · {metric} by hyperparameter" if lines
                           else "Trials")
        self._update_legend()
        if self.parallel.selected:
            self.select(self.parallel.selected)
        self._show_importance(analysis.importance, len(lines), metric)

    def _show_importance(self, importance: Importance | None, done: int, metric: str) -> None:
        if importance is None:
            self.importance_stack.setCurrentWidget(self.no_importance)
            self.no_importance.text.setText(
                f"Which hyperparameters matter is estimated from at least {MIN_TRIALS} completed trials "
                f"({done} so far): with fewer, any parameter seems to explain {metric}. "
                "Let the sweep run more trials (limits: max_total_trials).")
            self.method.setText("")
            return
        self.importance.set_importance(importance)
        self.importance_stack.setCurrentWidget(self.importance)
        flat = all(share == 0 for _, share in importance.shares)
        self.method.setText(
            f"  {metric} did not vary across the {importance.trials} completed trials: nothing to explain" if flat
            else f"  the share of {metric}'s variance each explains · {importance.method}, "
                 f"{plural(importance.trials, 'completed trial')}")

    def _update_legend(self) -> None:
        lines = self.parallel.lines
        info = self.analysis.children.sweep if self.analysis else None
        if not lines or info is None:
            self.legend.setText("")
            return
        best = max(lines, key=lambda ln: ln.goodness)
        worst = min(lines, key=lambda ln: ln.goodness)
        swatch = "<span style='color:{}'>━━</span>&nbsp;{}"
        mid = line_color(0.5).name()
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join([
            swatch.format(BEST_COLOR.name(), f"best {html.escape(fmt_value(best.value))}"),
            swatch.format(mid, "middling"),
            swatch.format(WORST_COLOR.name(), f"worst {html.escape(fmt_value(worst.value))}"),
        ]))
