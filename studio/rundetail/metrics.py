"""The Metrics tab: one live plot per scalar metric."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QScrollArea, QStackedWidget, QWidget

from engine import entities as E
from studio.plots.metric_plot import MetricPlot
from studio.widgets import EmptyState

COLUMNS = 2


class MetricsTab(QStackedWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, MetricPlot] = {}
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(12, 12, 12, 12)
        self.grid.setSpacing(12)
        self.scroll.setWidget(body)
        self.empty = EmptyState(
            "No metrics yet",
            "Values the script logs with run.log(\"name\", value) are plotted here as they arrive.")
        self.addWidget(self.scroll)
        self.addWidget(self.empty)
        self.setCurrentWidget(self.empty)

    def set_finished(self, finished: bool) -> None:
        if finished:
            self.empty.title.setText("No metrics")
            self.empty.text.setText("This run did not log any scalar metrics.")

    def update_metrics(self, summaries: list[E.MetricSummary], histories: dict[str, E.MetricHistory]) -> None:
        keys = [s.key for s in summaries if s.kind == "scalar"]
        added = False
        for key in keys:
            if key not in self.plots:
                self.plots[key] = MetricPlot(key)
                added = True
        if added:
            for i, key in enumerate(sorted(self.plots)):
                self.grid.addWidget(self.plots[key], i // COLUMNS, i % COLUMNS)
        for key, hist in histories.items():
            if key in self.plots:
                self.plots[key].set_history(hist.steps, hist.values)
        self.setCurrentWidget(self.scroll if self.plots else self.empty)
