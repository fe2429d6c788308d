"""The Submit dialog's preview of a pipeline job file: its steps as the graph the run's page will
show (laid out off the GUI thread), and a few read-only rows (steps, experiment, inputs)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from studio.pipelines.graphmodel import GraphModel, from_spec
from studio.pipelines.graphview import PipelineGraph
from studio.pipelines.layout import Layout, layout
from studio.style import muted
from studio.tasks import BackgroundOp

MAX_HEIGHT = 300


def is_pipeline_spec(spec: Any) -> bool:
    """A loaded `type: pipeline` job (engine.jobs.pipeline.PipelineSpec)."""
    return spec is not None and hasattr(spec, "steps") and callable(getattr(spec, "edges", None))


def describe_pipeline(spec: Any) -> list[tuple[str, str]]:
    """(field, value) rows that show a pipeline job file read-only."""
    rows = [("Steps", ", ".join(spec.steps)), ("Experiment", spec.experiment_name)]
    settings = getattr(spec, "settings", None)
    compute = getattr(settings, "default_compute", None)
    if compute:
        rows.append(("Compute", f"{compute} (default)"))
    if spec.display_name or spec.name:
        rows.append(("Name", spec.display_name or spec.name or ""))
    if spec.inputs:
        rows.append(("Inputs", ", ".join(f"{k}={_short(v)}" for k, v in spec.inputs.items())))
    return rows


def _short(value: Any) -> str:
    path = getattr(value, "path", None)
    text = str(path if path is not None else value)
    return text if len(text) <= 48 else "…" + text[-47:]


class PipelinePreview(QWidget):
    """`shown()` once the graph is drawn."""

    shown = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.setSpacing(4)
        self.caption = muted(QLabel("Laying out the pipeline…"))
        lay.addWidget(self.caption)
        self.graph = PipelineGraph()
        self.graph.setFrameShape(QFrame.Shape.StyledPanel)
        self.graph.setMinimumHeight(120)
        lay.addWidget(self.graph)
        self.model: GraphModel | None = None
        self._pending: Any = None

    def show_spec(self, spec: Any) -> None:
        """Draw `spec`'s steps (none started) and the data between them."""
        model = from_spec(spec)
        if self.model is not None and model.structure() == self.model.structure():
            return
        self._pending = model
        self.caption.setText("Laying out the pipeline…")
        BackgroundOp(self, lambda: layout(model)).success(lambda lay: self._laid_out(model, lay)).run()

    def _laid_out(self, model: GraphModel, lay: Layout) -> None:
        if model is not self._pending:
            return  # another file was picked meanwhile
        self.model = model
        self.graph.set_graph(model, lay)
        self.graph.setFixedHeight(min(MAX_HEIGHT, self.graph.preferred_height() + 4))
        n = len(model.steps)
        self.caption.setText(
            f"{n} step{'s' if n != 1 else ''}, {len(model.edges)} data connection"
            f"{'s' if len(model.edges) != 1 else ''}: each step runs as a child run when its inputs exist"
        )
        self.shown.emit()
