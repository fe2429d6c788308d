"""The pipeline graph widget, built from its view-model: laid out left to right by grandalf,
boxes coloured by status with duration and the reused badge, clicks reported per step."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt

from studio.pipelines.graphmodel import GraphModel, StepNode, from_pipeline_dict
from studio.pipelines.graphview import PipelineGraph
from studio.pipelines.layout import layout
from studio.style import status_color

TAXI = {
    "type": "pipeline",
    "jobs": {
        "prep": {"command": "python prep.py", "outputs": {"clean": {"type": "uri_folder"}}},
        "transform": {"inputs": {"data": "${{parent.jobs.prep.outputs.clean}}"}},
        "train": {"inputs": {"data": {"path": "${{parent.jobs.transform.outputs.out}}"}}},
        "predict": {
            "inputs": {
                "model": "${{parent.jobs.train.outputs.model}}",
                "test": "${{parent.jobs.train.outputs.test}}",
            }
        },
        "score": {
            "inputs": {
                "pred": "${{parent.jobs.predict.outputs.pred}}",
                "model": "${{parent.jobs.train.outputs.model}}",
            }
        },
        "report": {"command": "python report.py", "inputs": {"n": 3}},
    },
}


def test_the_yaml_graph_is_laid_out_left_to_right_without_overlaps() -> None:
    model = from_pipeline_dict(TAXI)
    assert [s.name for s in model.steps] == ["prep", "transform", "train", "predict", "score", "report"]
    assert ("train", "model", "score", "model") in [
        (e.source, e.output, e.target, e.input) for e in model.edges
    ]
    lay = layout(model)
    for e in model.edges:  # every datum flows rightwards
        assert lay.boxes[e.source].x + lay.boxes[e.source].w < lay.boxes[e.target].x, e
        route = lay.routes[e]
        assert route[0] == lay.boxes[e.source].right_mid and route[-1] == lay.boxes[e.target].left_mid
    boxes = list(lay.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a, b)
    # the step that shares no data with the others is a part of its own, below them
    chain = [lay.boxes[n] for n in ("prep", "transform", "train", "predict", "score")]
    assert lay.boxes["report"].y >= max(b.y + b.h for b in chain)
    assert lay.width >= lay.boxes["score"].x + lay.boxes["score"].w


def live_model() -> GraphModel:
    now = time.time()
    base = from_pipeline_dict(TAXI)
    states: dict[str, dict[str, Any]] = {
        "prep": {
            "status": "Completed",
            "run_name": "r_prep",
            "started_at": now - 60,
            "ended_at": now - 59,
            "reused_from": "old_prep",
        },
        "transform": {
            "status": "Completed",
            "run_name": "r_tr",
            "started_at": now - 50,
            "ended_at": now - 20,
        },
        "train": {"status": "Running", "run_name": "r_train", "started_at": now - 12},
    }
    return GraphModel(
        tuple(StepNode(s.name, detail=s.detail, **states.get(s.name, {})) for s in base.steps), base.edges
    )


def test_boxes_show_status_duration_and_reuse_and_clicks_name_the_step(qtbot: Any) -> None:
    model = live_model()
    view = PipelineGraph()
    qtbot.addWidget(view)
    view.resize(1400, 420)
    view.set_graph(model, layout(model))
    view.show()
    qtbot.waitExposed(view)
    assert set(view.items) == {s.name for s in model.steps}
    assert view.items["transform"].state_text() == "Completed · 30s"
    assert view.items["train"].state_text().startswith("Running · 1")  # 12 s and counting
    assert view.items["predict"].state_text() == "Not started"
    assert view.items["prep"].state_text() == "Completed"  # a reused step did not run: no duration
    assert "Reused from old_prep" in view.items["prep"].toolTip()
    assert "click to open" in view.items["train"].toolTip() and "click" not in view.items["predict"].toolTip()

    image = view.grab().toImage()  # the stripe of each box is painted in its status colour
    for step, status in (("transform", "Completed"), ("train", "Running")):
        item = view.items[step]
        spot = view.mapFromScene(item.mapToScene(item.boundingRect().topLeft()))
        pixel = image.pixelColor(spot.x() + 5, spot.y() + 30)
        assert pixel.name() == status_color(status).name(), (step, pixel.name())

    with qtbot.waitSignal(view.stepClicked, timeout=5000) as clicked:
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=view.step_at_center("train").toPoint()
        )
    assert clicked.args == ["train"]

    # new states of the same steps: the boxes repaint, nothing is laid out again
    item = view.items["train"]
    done = GraphModel(
        tuple(
            StepNode(**{**s.__dict__, "status": "Completed", "ended_at": time.time()})
            if s.name == "train"
            else s
            for s in model.steps
        ),
        model.edges,
    )
    view.set_states(done)
    assert view.items["train"] is item and item.state_text().startswith("Completed · 1")
