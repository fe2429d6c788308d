"""A sweep run's Sweep analysis tab, with real sweeps through the real engine: parallel
coordinates of its completed trials (an axis per hyperparameter over its range, one line per
trial, hover and click name a trial) and parameter importance (the one parameter the objective
depends on ranks first; too few trials say so instead of drawing noise)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QToolTip

# The grid sweep of the Child runs tests (2 completed trials, 2 stopped early) and its workspace.
from test_studio_sweeps import sweep, workspace  # noqa: F401  (fixtures)

from engine.api import Engine
from engine.specs.jobs import load_job
from studio.style import fmt_value

# val_loss depends on lr only: a bowl at lr = 10^-2.5. batch and optimizer change nothing.
TRIAL = textwrap.dedent("""
    import argparse, math
    from azureml.core import Run

    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float)
    p.add_argument("--batch", type=int)
    p.add_argument("--optimizer")
    a = p.parse_args()
    run = Run.get_context()
    run.log("val_loss", (math.log10(a.lr) + 2.5) ** 2 + 0.05)
""")

SWEEP = textwrap.dedent("""
    type: sweep
    experiment_name: importance
    trial:
      code: src
      command: >-
        python train.py --lr ${{search_space.lr}} --batch ${{search_space.batch}}
        --optimizer ${{search_space.optimizer}}
    sampling_algorithm: {type: random, seed: 11}
    search_space:
      lr: {type: loguniform, min_value: -9.22, max_value: -2.3}
      batch: {type: choice, values: [16, 32, 64, 128]}
      optimizer: {type: choice, values: [sgd, adam]}
    objective: {goal: minimize, primary_metric: val_loss}
    limits: {max_total_trials: 10, max_concurrent_trials: 5, timeout: 5400}
""").lstrip()

TRIALS = 10
LOAD_MS = 20_000


@pytest.fixture(scope="module")
def random_sweep(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    project = tmp_path_factory.mktemp("importance-project")
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text(TRIAL)
    (project / "sweep.yml").write_text(SWEEP)
    eng = Engine.open(workspace)
    try:
        run = eng.submit(load_job(project / "sweep.yml"))
        final = eng.wait(run.name, timeout=300)
        assert final.status == "Completed", final.error
        assert [t.status for t in eng.children(run.name)] == ["Completed"] * TRIALS
    finally:
        eng.close()
    yield run.name


def _open(qtbot: Any, window: Any, name: str, lines: int) -> Any:
    detail = window.show_run(name)
    qtbot.waitUntil(lambda: detail.sweep is not None, timeout=LOAD_MS)
    detail.show_tab("sweep")
    tab = detail.sweep
    qtbot.waitUntil(lambda: tab.analysis is not None and len(tab.parallel.lines) == lines, timeout=LOAD_MS)
    return tab


def test_parallel_coordinates_have_an_axis_per_parameter_and_a_line_per_completed_trial(
        qtbot: Any, window: Any, random_sweep: str) -> None:
    tab = _open(qtbot, window, random_sweep, TRIALS)
    chart = tab.parallel
    axes = {a.name: a for a in chart.axes}
    assert [a.name for a in chart.axes] == ["lr", "batch", "optimizer", "val_loss"]
    # lr on a log axis over the search space's range (e^-9.22 .. e^-2.3), the choices as labels.
    assert axes["lr"].kind == "log"
    assert (axes["lr"].low, axes["lr"].high) == pytest.approx((math.exp(-9.22), math.exp(-2.3)))
    assert [label for _, label in axes["lr"].ticks()] == ["1e-4", "0.001", "0.01", "0.1"]
    assert axes["batch"].categories == ("16", "32", "64", "128")
    assert [pos for pos, _ in axes["batch"].ticks()] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert axes["optimizer"].categories == ("sgd", "adam")
    values = [r.value for r in tab.analysis.children.rows]
    assert (axes["val_loss"].low, axes["val_loss"].high) == (min(values), max(values))
    assert sorted(chart.line_names()) == sorted(f"{random_sweep}_{i}" for i in range(TRIALS))
    assert sorted(chart.curves) == sorted(chart.line_names())
    assert tab.title.text().startswith("10 completed trials")
    assert "best" in tab.legend.text()


def test_hovering_and_clicking_a_line_names_its_trial(qtbot: Any, window: Any, random_sweep: str) -> None:
    tab = _open(qtbot, window, random_sweep, TRIALS)
    chart = tab.parallel
    qtbot.waitUntil(lambda: chart.isVisible() and chart.width() > 300, timeout=LOAD_MS)
    best = max(chart.lines, key=lambda ln: ln.goodness)  # the lowest val_loss: the bottom of its axis
    assert best.ys[-1] == 0.0
    x = len(chart.axes) - 1.1  # just before the metric's axis, where the best line is lowest
    y = best.ys[-2] + (best.ys[-1] - best.ys[-2]) * 0.9
    vb = chart.getPlotItem().getViewBox()
    at = chart.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    qtbot.mouseMove(chart.viewport(), QPoint(at.x(), at.y()))
    qtbot.waitUntil(lambda: chart.hovered == best.name, timeout=LOAD_MS)
    assert QToolTip.text().startswith(f"{best.name}  (best)\nval_loss {fmt_value(best.value)}")
    qtbot.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(at.x(), at.y()))
    qtbot.waitUntil(lambda: chart.selected == best.name, timeout=LOAD_MS)
    assert best.name in tab.picked.text() and "best" in tab.picked.text()


def test_the_parameter_the_objective_depends_on_ranks_first_in_importance(
        qtbot: Any, window: Any, random_sweep: str) -> None:
    tab = _open(qtbot, window, random_sweep, TRIALS)
    qtbot.waitUntil(lambda: tab.importance_stack.currentWidget() is tab.importance, timeout=LOAD_MS)
    bars = tab.importance.bars()
    assert bars[0][0] == "lr"
    assert sorted(name for name, _ in bars) == ["batch", "lr", "optimizer"]
    assert sum(share for _, share in bars) == pytest.approx(1.0)
    assert "10 completed trials" in tab.method.text()


def test_a_sweep_with_too_few_completed_trials_says_so_instead_of_ranking(
        qtbot: Any, window: Any, sweep: str) -> None:  # noqa: F811
    tab = _open(qtbot, window, sweep, 2)  # the grid sweep: 2 completed, 2 stopped early
    assert tab.importance_stack.currentWidget() is tab.no_importance
    assert tab.no_importance.title.text() == "Too few completed trials"
    assert "at least 4 completed trials (2 so far)" in tab.no_importance.text.text()
    assert [a.categories for a in tab.parallel.axes[:2]] == [("1e-5", "0.5"), ("sgd", "adam")]


def test_the_tab_fills_in_as_trials_complete(qtbot: Any, window: Any, engine: Engine, tmp_path: Path) -> None:
    """Opened while every trial is still running (held by a gate file): empty states that say what
    comes; once the trials complete, their lines and the importance appear without reopening."""
    gate = tmp_path / "release"
    (tmp_path / "src").mkdir()
    held = TRIAL.replace("run = Run.get_context()", textwrap.dedent(f"""
        import os, time
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.02)
        run = Run.get_context()"""))
    (tmp_path / "src" / "train.py").write_text(held)
    (tmp_path / "sweep.yml").write_text(SWEEP.replace("max_total_trials: 10", "max_total_trials: 5")
                                        .replace("importance", "live-importance"))
    run = engine.submit(load_job(tmp_path / "sweep.yml"))
    try:
        qtbot.waitUntil(lambda: len(engine.children(run.name)) == 5, timeout=60_000)
        tab = _open(qtbot, window, run.name, 0)
        assert tab.lines_stack.currentWidget() is tab.no_lines
        assert "Trials appear here as they complete" in tab.no_lines.text.text()
        assert "(0 so far)" in tab.no_importance.text.text()
    finally:
        gate.touch()
    assert engine.wait(run.name, timeout=120).status == "Completed"
    qtbot.waitUntil(lambda: len(tab.parallel.lines) == 5, timeout=LOAD_MS)
    qtbot.waitUntil(lambda: tab.importance_stack.currentWidget() is tab.importance, timeout=LOAD_MS)
    assert tab.lines_stack.currentWidget() is tab.parallel
    assert sorted(name for name, _ in tab.importance.bars()) == ["batch", "lr", "optimizer"]
