"""Left-to-right layered layout of a pipeline graph, by grandalf's Sugiyama layout. No Qt.

grandalf draws layers top to bottom; a left-to-right drawing is the same layout transposed, so
each box is handed over with its width and height swapped and the result is swapped back.
Independent parts of the graph (steps that share no data) are laid out one below the other.
Pure Python: for a big graph the page runs it off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.pipelines.graphmodel import DataEdge, GraphModel

BOX_W = 190.0
BOX_H = 70.0
LAYER_GAP = 96.0  # between columns: room for an edge's label
ROW_GAP = 28.0  # between boxes of one column
PART_GAP = 40.0  # between independent parts

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    x: float  # top-left
    y: float
    w: float = BOX_W
    h: float = BOX_H

    @property
    def left_mid(self) -> Point:
        return self.x, self.y + self.h / 2

    @property
    def right_mid(self) -> Point:
        return self.x + self.w, self.y + self.h / 2


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    routes: dict[DataEdge, tuple[Point, ...]]  # from the source's right side to the target's left
    width: float
    height: float


class _View:
    """The vertex/edge view grandalf reads sizes from and writes positions to."""

    def __init__(self, w: float = 0.0, h: float = 0.0) -> None:
        self.w, self.h = w, h
        self.xy: Point = (0.0, 0.0)
        self.path: list[Point] = []

    def setpath(self, pts: list[Point]) -> None:
        self.path = list(pts)


def layout(model: GraphModel) -> Layout:
    """Where each step's box goes and the points each data edge passes through."""
    from grandalf.graphs import Edge, Graph, Vertex  # the layout library: only where a graph is drawn
    from grandalf.layouts import SugiyamaLayout

    vertices = {s.name: Vertex(s.name) for s in model.steps}
    edges = []
    for e in model.edges:
        if e.source in vertices and e.target in vertices and e.source != e.target:
            edge = Edge(vertices[e.source], vertices[e.target], data=e)
            edge.view = _View()
            edges.append(edge)
    for v in vertices.values():
        v.view = _View(BOX_H, BOX_W)  # transposed
    graph = Graph(list(vertices.values()), edges)

    boxes: dict[str, Box] = {}
    routes: dict[DataEdge, tuple[Point, ...]] = {}
    top = 0.0
    width = 0.0
    for part in graph.C:
        sug = SugiyamaLayout(part)
        sug.xspace, sug.yspace = ROW_GAP, LAYER_GAP
        sug.init_all()
        sug.draw()
        # grandalf's (x, y) of a vertex centre is (across the layer, down the layers): swap.
        centres = {v.data: (v.view.xy[1], v.view.xy[0]) for v in part.sV}
        min_x = min(c[0] for c in centres.values()) - BOX_W / 2
        min_y = min(c[1] for c in centres.values()) - BOX_H / 2
        part_h = 0.0
        for name, (cx, cy) in centres.items():
            box = Box(cx - BOX_W / 2 - min_x, cy - BOX_H / 2 - min_y + top)
            boxes[name] = box
            width = max(width, box.x + box.w)
            part_h = max(part_h, box.y + box.h - top)
        for edge in part.sE:
            if not hasattr(edge, "view"):
                continue
            src, dst = boxes[edge.v[0].data], boxes[edge.v[1].data]
            middle = [(y - min_x, x - min_y + top) for x, y in edge.view.path[1:-1]]
            if getattr(edge, "feedback", False) or src.x > dst.x:  # a cycle grandalf reversed
                middle.reverse()
            routes[edge.data] = (src.right_mid, *middle, dst.left_mid)
        top += part_h + PART_GAP
    height = max(0.0, top - PART_GAP)
    return Layout(boxes, routes, width, height)
