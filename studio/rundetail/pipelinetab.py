"""The Pipeline tab of a pipeline run: its steps as a live graph (studio/pipelines/graphview.py).

The graph is read with `engine.pipeline_graph(run)` off the GUI thread: every second while the
pipeline runs, and whenever the bridge reports a change to the pipeline or one of its steps. The
layout (grandalf) is computed in that same background read, and only when a step or an edge came or
went; otherwise the boxes are just repainted in their new states. Clicking a step that has a run
opens it (`openRun`).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine import entities as E
from engine.runtime.pipelineplan import PIPELINE_PROPERTY
from engine.runtime.sweepresults import RUN_TYPE
from studio.pipelines.graphmodel import GraphModel, from_engine_graph
from studio.pipelines.graphview import PipelineGraph
from studio.pipelines.layout import Layout, layout
from studio.style import muted, status_label
from studio.tasks import BackgroundOp

log = logging.getLogger(__name__)

PIPELINE = "pipeline"
LIVE_MS = 1000


def is_pipeline(run: E.Run) -> bool:
    """A pipeline's run (its steps are its child runs): the pipeline controller's record in its
    properties (or the run type the runs table reads)."""
    return PIPELINE_PROPERTY in run.properties or run.properties.get(RUN_TYPE) == PIPELINE


def read_graph(engine: Any, name: str, laid_out: Any) -> tuple[GraphModel, Layout | None]:
    """The graph as it stands and, when its structure is not `laid_out`, its new layout."""
    model = from_engine_graph(engine.pipeline_graph(name))
    return model, (layout(model) if model.structure() != laid_out else None)


def summary(model: GraphModel) -> str:
    """'5 steps: 2 Completed, 1 reused, 1 Running, 1 Not started'."""
    counts = model.counts()
    order = [
        "Completed",
        "Reused",
        "Running",
        "Finalizing",
        "Starting",
        "Preparing",
        "Queued",
        "Failed",
        "Canceled",
        "NotStarted",
    ]
    parts = [
        f"{counts[k]} {'reused' if k == 'Reused' else status_label(k)}"
        for k in sorted(counts, key=lambda k: order.index(k) if k in order else len(order))
    ]
    n = len(model.steps)
    return f"{n} step{'s' if n != 1 else ''}: " + ", ".join(parts)


class PipelineTab(QWidget):
    """`openRun(name)` when a step that has a run is clicked; `graphShown()` after each update."""

    openRun = Signal(str)
    graphShown = Signal()

    def __init__(self, engine: Any, bridge: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.model: GraphModel | None = None
        self._structure: Any = None
        self._busy = False
        self._again = False
        self._finished = False

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(6)
        self.summary = muted(QLabel("Reading the pipeline…"))
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.summary)
        self.graph = PipelineGraph()
        self.graph.stepClicked.connect(self._step_clicked)
        lay.addWidget(self.graph, 1)
        hint = muted(QLabel("Click a step to open its run."))
        lay.addWidget(hint)

        self._timer = QTimer(self)
        self._timer.setInterval(LIVE_MS)
        self._timer.timeout.connect(self._tick)
        bridge.runsChanged.connect(self._runs_changed)
        self.refresh()
        self._timer.start()

    # ---------------------------------------------------------------- public
    def set_run(self, run: E.Run) -> None:
        """The pipeline run's latest state (the page's refresh): polling stops once it has ended
        and a last read after that has been shown."""
        was = self._finished
        self._finished = run.is_terminal
        if self._finished and not was:
            self.refresh()

    def stop(self) -> None:
        self._timer.stop()

    def refresh(self) -> None:
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._again = False
        engine, name, structure = self.engine, self.name, self._structure
        (
            BackgroundOp(self, lambda: read_graph(engine, name, structure))
            .success(self._loaded)
            .failure(self._failed)
            .run()
        )

    # ---------------------------------------------------------------- updates
    def _tick(self) -> None:
        self.graph.tick()
        if not self._finished:
            self.refresh()
        elif self.model is not None and all(
            s.ended_at is not None or s.started_at is None for s in self.model.steps
        ):
            self._timer.stop()

    def _runs_changed(self, runs: list[E.Run]) -> None:
        if any(r.name == self.name or r.parent_name == self.name for r in runs):
            if not self._timer.isActive():
                self._timer.start()
            self.refresh()

    def _loaded(self, result: tuple[GraphModel, Layout | None]) -> None:
        self._busy = False
        model, new_layout = result
        if new_layout is not None:
            self.graph.set_graph(model, new_layout)
            self._structure = model.structure()
        else:
            self.graph.set_states(model)
        self.model = model
        self.summary.setText(summary(model))
        self.graphShown.emit()
        if self._again:
            self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self.summary.setText(f"The pipeline's steps cannot be read: {exc}")
        log.warning("reading the graph of pipeline %s failed: %s", self.name, exc)

    def _step_clicked(self, step: str) -> None:
        if self.model is None:
            return
        node = self.model.step(step)
        if node.run_name:
            self.openRun.emit(node.run_name)
        else:
            self.summary.setText(f"Step {step} has no run yet ({status_label(node.status)}).")
