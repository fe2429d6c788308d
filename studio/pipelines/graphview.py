"""The pipeline graph widget: steps as boxes, data as arrows, laid out left to right.

Built from a `GraphModel` and its `Layout` (studio.pipelines.layout). `set_graph` redraws the
scene when the steps or edges change; `set_states` only repaints the boxes (status colour,
duration, the reused badge), which is what a live pipeline changes twice a second. Clicking a box
emits `stepClicked(step)`; a step that has a run is opened by the page that owns the widget.
Colours come from the palette and studio.style's status colours, so dark mode follows.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.pipelines.graphmodel import DataEdge, GraphModel, StepNode
from studio.pipelines.layout import Box, Layout, Point
from studio.style import fmt_duration, status_color, status_label

MARGIN = 24.0
MIN_SCALE = 0.55  # smaller than this the text is unreadable: scroll instead
REUSED = "reused"
REUSED_COLOR = "#7c5cc4"


def _palette() -> QPalette:
    return QApplication.palette()


class StepItem(QGraphicsObject):
    """One step's box: a status stripe on the left, the name, its state and duration."""

    clicked = Signal(str)

    def __init__(self, node: StepNode, box: Box) -> None:
        super().__init__()
        self.node = node
        self.box = box
        self.setPos(box.x + MARGIN, box.y + MARGIN)
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self._hover = False
        self._update_cursor()
        self.setToolTip(self._tooltip())

    def set_node(self, node: StepNode) -> None:
        if node != self.node:
            self.node = node
            self._update_cursor()
            self.setToolTip(self._tooltip())
            self.update()

    def _update_cursor(self) -> None:
        self.setCursor(
            Qt.CursorShape.PointingHandCursor if self.node.run_name else Qt.CursorShape.ArrowCursor
        )

    def _tooltip(self) -> str:
        n = self.node
        lines = [n.name, f"Status: {status_label(n.status)}"]
        if n.run_name:
            lines.append(f"Run: {n.run_name} (click to open)")
        if n.reused_from:
            lines.append(f"Reused from {n.reused_from}: its outputs, not run again")
        if n.detail:
            lines.append(n.detail)
        return "\n".join(lines)

    def state_text(self) -> str:
        """The line under the name: status and duration."""
        n = self.node
        text = status_label(n.status)
        seconds = n.duration()
        if seconds is not None and not n.reused_from:
            text += f" · {fmt_duration(seconds)}"
        return text

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, self.box.w + 4, self.box.h + 4)

    def paint(
        self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None
    ) -> None:
        pal = _palette()
        n = self.node
        rect = QRectF(0, 0, self.box.w, self.box.h)
        color = status_color(n.status)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = QColor(color) if n.status != "NotStarted" else pal.color(QPalette.ColorRole.Mid)
        painter.setPen(QPen(border, 2.0 if self._hover else 1.2))
        fill = pal.color(QPalette.ColorRole.Base)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 7, 7)
        # the status stripe
        stripe = QPainterPath()
        stripe.addRoundedRect(QRectF(0.5, 0.5, 12, self.box.h - 1), 6, 6)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, 7, self.box.h))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPath(stripe.intersected(clip))

        text_x = 18.0
        avail = self.box.w - text_x - 10
        font = QFont(painter.font())
        bold = QFont(font)
        bold.setBold(True)
        bold.setPointSizeF(font.pointSizeF() * 1.05)
        painter.setFont(bold)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        fm = QFontMetricsF(bold)
        badge_w = 0.0
        if n.reused_from:
            small = QFont(font)
            small.setPointSizeF(font.pointSizeF() * 0.82)
            sfm = QFontMetricsF(small)
            badge_w = sfm.horizontalAdvance(REUSED) + 12
            badge = QRectF(self.box.w - badge_w - 8, 8, badge_w, sfm.height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(REUSED_COLOR))
            painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
            painter.setFont(small)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, REUSED)
            painter.setFont(bold)
            painter.setPen(pal.color(QPalette.ColorRole.Text))
        name = fm.elidedText(n.name, Qt.TextElideMode.ElideRight, avail - badge_w - (6 if badge_w else 0))
        painter.drawText(QPointF(text_x, 10 + fm.ascent()), name)

        painter.setFont(font)
        fm2 = QFontMetricsF(font)
        painter.setPen(color if n.status != "NotStarted" else pal.color(QPalette.ColorRole.PlaceholderText))
        y2 = 10 + fm.height() + 4 + fm2.ascent()
        painter.drawText(
            QPointF(text_x, y2), fm2.elidedText(self.state_text(), Qt.TextElideMode.ElideRight, avail)
        )
        sub = f"reused from {n.reused_from}" if n.reused_from else n.detail
        if sub:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            y3 = y2 + fm2.height() + 1
            painter.drawText(QPointF(text_x, y3), fm2.elidedText(sub, Qt.TextElideMode.ElideMiddle, avail))

    def hoverEnterEvent(self, event: object) -> None:  # type: ignore[override]
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: object) -> None:  # type: ignore[override]
        self._hover = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.boundingRect().contains(event.pos()):
            self.clicked.emit(self.node.name)


def _edge_path(points: tuple[Point, ...]) -> QPainterPath:
    """A smooth curve through the route: horizontal tangents at every point."""
    pts = [QPointF(x + MARGIN, y + MARGIN) for x, y in points]
    path = QPainterPath(pts[0])
    for a, b in itertools.pairwise(pts):
        dx = (b.x() - a.x()) / 2
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


class PipelineGraph(QGraphicsView):
    """`stepClicked(step)` when a step's box is clicked."""

    stepClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.model: GraphModel | None = None
        self.items: dict[str, StepItem] = {}

    def set_graph(self, model: GraphModel, layout: Layout) -> None:
        """Draw `model` anew at the positions of `layout`."""
        scene = self.scene()
        scene.clear()
        self.items = {}
        self.model = model
        pal = _palette()
        line = pal.color(QPalette.ColorRole.PlaceholderText)
        # Several data between the same two steps are drawn as one arrow with every name on it.
        grouped: dict[tuple[str, str], list[DataEdge]] = {}
        for e in model.edges:
            if e in layout.routes:
                grouped.setdefault((e.source, e.target), []).append(e)
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.85)
        for edges in grouped.values():
            route = layout.routes[edges[0]]
            path = _edge_path(route)
            scene.addPath(path, QPen(line, 1.4)).setZValue(0)
            tip = QPointF(route[-1][0] + MARGIN, route[-1][1] + MARGIN)
            head = QPolygonF([tip, tip + QPointF(-8, -4.5), tip + QPointF(-8, 4.5)])
            scene.addPolygon(head, QPen(line), QBrush(line)).setZValue(0)
            # one line per datum, each elided to the room between the two boxes
            room = max(40.0, route[-1][0] - route[0][0] - 12)
            fm = QFontMetricsF(small)
            text = "\n".join(fm.elidedText(e.label, Qt.TextElideMode.ElideMiddle, room) for e in edges)
            label = scene.addSimpleText(text, small)
            label.setBrush(pal.color(QPalette.ColorRole.PlaceholderText))
            label.setToolTip(
                "\n".join(f"{e.source}.outputs.{e.output} → {e.target}.inputs.{e.input}" for e in edges)
            )
            mid = path.pointAtPercent(0.5)
            rect = label.boundingRect()
            label.setPos(mid.x() - rect.width() / 2, mid.y() - rect.height() - 3)
            label.setZValue(1)
        for node in model.steps:
            item = StepItem(node, layout.boxes[node.name])
            item.setZValue(2)
            item.clicked.connect(self.stepClicked)
            scene.addItem(item)
            self.items[node.name] = item
        scene.setSceneRect(QRectF(0, 0, layout.width + 2 * MARGIN, layout.height + 2 * MARGIN))
        self.fit()

    def fit(self) -> None:
        """Show the whole graph: scaled down (never up, never below MIN_SCALE) to the view's size."""
        rect = self.scene().sceneRect()
        view = self.viewport().size()
        if rect.isEmpty() or view.isEmpty():
            return
        scale = max(MIN_SCALE, min(1.0, view.width() / rect.width(), view.height() / rect.height()))
        self.resetTransform()
        self.scale(scale, scale)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit()

    def set_states(self, model: GraphModel) -> None:
        """The same steps and edges in new states: repaint the boxes only."""
        self.model = model
        for node in model.steps:
            item = self.items.get(node.name)
            if item is not None:
                item.set_node(node)

    def tick(self) -> None:
        """Repaint running steps (their duration)."""
        for item in self.items.values():
            if item.node.started_at is not None and item.node.ended_at is None:
                item.update()

    def step_at_center(self, step: str) -> QPointF:
        """Where in the view `step`'s box is (tests click there)."""
        item = self.items[step]
        centre = item.mapToScene(item.boundingRect().center())
        return QPointF(self.mapFromScene(centre))

    def preferred_height(self) -> int:
        rect = self.scene().sceneRect()
        return math.ceil(rect.height()) + 4
