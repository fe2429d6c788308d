"""A sweep run in the studio, with a real grid sweep through the real engine: the Child runs tab
lists its trials with their hyperparameters and metric, marks the best and the ones early
termination stopped, and charts the metric against each hyperparameter; the Overview has a Sweep
section, and a trial links to its sweep."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QTreeWidget

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.specs.jobs import load_job
from studio.rundetail.children import COLUMNS, SortableItem
from studio.style import STOPPED_EARLY

# val_loss ends at (lr - 0.5)^2 + 0.1, plus 3 with adam; adam trials start reporting only once both
# sgd trials have ended (a file each in the gate folder: not the pace of a loaded machine), and slowly,
# so when they reach report 3 the bandit policy stops them, 5 reports (4 s) before their end.
TRIAL = textwrap.dedent("""
    import argparse, os, time
    from azureml.core import Run

    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer")
    p.add_argument("--gate")
    a = p.parse_args()
    run = Run.get_context()
    final = (a.lr - 0.5) ** 2 + 0.1 + (3.0 if a.optimizer == "adam" else 0.0)
    while a.optimizer == "adam" and len(os.listdir(a.gate)) < 2:
        time.sleep(0.02)
    for k in range(8):
        run.log("val_loss", final + 1.0 / (k + 1) ** 2 if k < 7 else final)
        run.flush()
        time.sleep(0.8 if a.optimizer == "adam" else 0.02)
    if a.optimizer == "sgd":
        open(os.path.join(a.gate, f"sgd-{a.lr}"), "w").close()
""")

SWEEP = textwrap.dedent("""
    type: sweep
    experiment_name: grid
    trial:
      code: src
      command: python train.py --lr ${{search_space.lr}} --optimizer ${{search_space.optimizer}} --gate GATE
    sampling_algorithm: grid
    search_space:
      lr: {type: choice, values: [0.00001, 0.5]}
      optimizer: {type: choice, values: [sgd, adam]}
    objective: {goal: minimize, primary_metric: val_loss}
    limits: {max_total_trials: 4, max_concurrent_trials: 4, timeout: 5400}
    early_termination: {type: bandit, slack_factor: 0.2, evaluation_interval: 1, delay_evaluation: 2}
""").lstrip()

LOAD_MS = 15_000


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace for the module: the sweep takes a few seconds, so it runs once."""
    return tmp_path_factory.mktemp("sweeps") / "ws"


@pytest.fixture(scope="module")
def sweep(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = tmp_path_factory.mktemp("sweep-project")
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text(TRIAL)
    gate = tmp_path_factory.mktemp("sgd-trials-done")
    (project / "sweep.yml").write_text(SWEEP.replace("GATE", str(gate)))
    eng = Engine.open(workspace)
    try:
        run = eng.submit(load_job(project / "sweep.yml"))
        final = eng.wait(run.name, timeout=120)
        assert final.status == "Completed", final.error
        trials = {t.name: t for t in eng.children(run.name)}
        assert [trials[f"{run.name}_{i}"].status for i in range(4)] == ["Completed", "Canceled",
                                                                        "Completed", "Canceled"]
        assert final.properties["best_child_run_id"] == f"{run.name}_2"
    finally:
        eng.close()
    yield run.name


def _item(tab: Any, name: str) -> Any:
    item = tab.item(name)
    assert item is not None, name
    return item


def _open_children(qtbot: Any, window: Any, name: str) -> Any:
    detail = window.show_run(name)
    detail.show_tab("children")
    tab = detail.child_runs
    qtbot.waitUntil(lambda: tab.rows is not None and len(tab.names()) == 4 and tab.sweep is not None,
                    timeout=LOAD_MS)
    return detail, tab


def test_a_sweeps_child_runs_tab_lists_its_trials_by_hyperparameter_and_marks_the_best(
        qtbot: Any, window: Any, sweep: str) -> None:
    detail, tab = _open_children(qtbot, window, sweep)
    cols = tab.columns()
    assert cols == ("Name", "Status", "lr", "optimizer", "val_loss", "Duration", "Created")
    lr, opt, metric = cols.index("lr"), cols.index("optimizer"), cols.index("val_loss")
    expected = {0: ("1e-5", "sgd"), 1: ("1e-5", "adam"), 2: ("0.5", "sgd"), 3: ("0.5", "adam")}
    for i, (lr_text, opt_text) in expected.items():
        item = _item(tab, f"{sweep}_{i}")
        assert (item.text(lr), item.text(opt)) == (lr_text, opt_text)
        assert item.toolTip(lr) == f"lr = {float(lr_text)!r}"
    # The metric column: each trial's last val_loss, 4 significant digits.
    assert _item(tab, f"{sweep}_2").text(metric) == "0.1"
    assert _item(tab, f"{sweep}_0").text(metric) == f"{(1e-05 - 0.5) ** 2 + 0.1:.4g}"

    # The best trial is marked (badge and bold) and named in the summary with its value and parameters.
    best = _item(tab, f"{sweep}_2")
    assert "Best" in best.text(0) and best.font(0).bold()
    assert not any("Best" in _item(tab, f"{sweep}_{i}").text(0) for i in (0, 1, 3))
    assert tab.summary.text() == (f"4 trials · 2 completed, 2 stopped early · best {sweep}_2: "
                                  "val_loss 0.1 (lr=0.5, optimizer=sgd)")

    # Trials the bandit policy stopped say so; the reason is in the tooltip.
    for i in (1, 3):
        item = _item(tab, f"{sweep}_{i}")
        assert item.text(1) == STOPPED_EARLY
        assert item.toolTip(1).startswith("early termination: bandit policy: val_loss")
    assert _item(tab, f"{sweep}_0").text(1) == "Completed"

    # Sorting is numeric: by lr 1e-05 comes before 0.5 (as text it would not); by val_loss, best first.
    tab.table.sortByColumn(lr, Qt.SortOrder.AscendingOrder)
    assert set(tab.names()[:2]) == {f"{sweep}_0", f"{sweep}_1"}
    tab.table.sortByColumn(metric, Qt.SortOrder.AscendingOrder)
    assert tab.names()[:2] == [f"{sweep}_2", f"{sweep}_0"]
    tab.table.sortByColumn(metric, Qt.SortOrder.DescendingOrder)
    assert tab.names()[-2:] == [f"{sweep}_0", f"{sweep}_2"]

    # Double-clicking a trial opens it, as for any child run.
    with qtbot.waitSignal(detail.openRun, timeout=2_000) as opened:
        tab.table.itemActivated.emit(best, 0)
    assert opened.args == [f"{sweep}_2"]


def test_the_sweep_chart_plots_the_metric_against_each_hyperparameter(qtbot: Any, window: Any, sweep: str) -> None:
    _detail, tab = _open_children(qtbot, window, sweep)
    chart = tab.chart
    assert chart.isVisibleTo(tab) and chart.height() <= 200
    assert list(chart.plots) == ["lr", "optimizer"]
    everyone = {f"{sweep}_{i}" for i in range(4)}
    for param in ("lr", "optimizer"):
        # One point per finished trial (the stopped ones too, at their last value).
        assert sorted(chart.point_names(param)) == sorted(everyone)
        assert len(chart.plots[param].scatter.points()) == 4
        # The best trial is drawn again as the highlight.
        assert [p.data() for p in chart.plots[param].best.points()] == [f"{sweep}_2"]
    # Text choices: an indexed axis labelled with the choices; numbers two decades apart: a log axis.
    optimizer = chart.plots["optimizer"]
    assert optimizer.axis.kind == "category" and optimizer.axis.categories == ("sgd", "adam")
    assert optimizer.getPlotItem().getAxis("bottom")._tickLevels == [[(0, "sgd"), (1, "adam")]]
    assert chart.plots["lr"].axis.kind == "log"
    colors = {p.data(): p.brush().color().name() for p in optimizer.scatter.points()}
    assert colors[f"{sweep}_0"] != colors[f"{sweep}_1"]  # completed vs stopped early
    assert "stopped early" in chart.legend.text() and "best" in chart.legend.text()
    # Hovering a point names the trial.
    assert optimizer.scatter.opts["tip"](x=0, y=0, data=f"{sweep}_2").startswith(f"{sweep}_2  (best)")

    # Clicking a point selects the trial's row.
    point = next(p for p in optimizer.scatter.points() if p.data() == f"{sweep}_1")
    qtbot.waitUntil(lambda: optimizer.viewRect().contains(point.pos()), timeout=LOAD_MS)  # laid out, ranged
    scene_pos = optimizer.getPlotItem().vb.mapViewToScene(QPointF(point.pos()))
    qtbot.mouseClick(optimizer.viewport(), Qt.MouseButton.LeftButton, pos=optimizer.mapFromScene(scene_pos))
    qtbot.waitUntil(lambda: tab.selected_names() == [f"{sweep}_1"], timeout=2_000)
    # The selected trial is ringed on every chart.
    assert all([p.data() for p in plot.ring.points()] == [f"{sweep}_1"] for plot in chart.plots.values())


def test_the_overview_of_a_sweep_has_a_sweep_section_and_links_the_best_trial(
        qtbot: Any, window: Any, sweep: str) -> None:
    detail = window.show_run(sweep)
    overview = detail.overview
    qtbot.waitUntil(lambda: "stopped early" in overview.values["sweep_trials"].text(), timeout=LOAD_MS)
    values = {k: v.text() for k, v in overview.values.items()}
    assert overview.sections["#sweep"].isVisibleTo(overview)
    assert values["sweep_sampling"] == "grid"
    assert values["sweep_space"] == "lr         choice(1e-5, 0.5)\noptimizer  choice(sgd, adam)"
    assert values["sweep_objective"] == "minimize val_loss"
    assert values["sweep_limits"] == "4 trials, 4 at a time, timeout 1h 30m"
    assert values["sweep_termination"] == "bandit: slack factor 0.2, every report after 2"
    assert values["sweep_trials"] == "4 trials · 2 completed, 2 stopped early"
    assert f">{sweep}_2</a>: val_loss 0.1 (lr=0.5, optimizer=sgd)" in values["sweep_best"]
    # What the section shows is not repeated as raw properties.
    for raw in ("best_child_run_id", "run_type", "search_space", "primary_metric", "trials"):
        assert raw not in values["properties"], raw

    href = re.search(r"href='([^']+)'", values["sweep_best"])
    assert href is not None
    with qtbot.waitSignal(detail.openRun, timeout=2_000) as opened:
        overview.values["sweep_best"].linkActivated.emit(href.group(1))
    assert opened.args == [f"{sweep}_2"]


def test_a_trials_overview_links_to_its_sweep(qtbot: Any, window: Any, sweep: str) -> None:
    detail = window.show_run(f"{sweep}_3")
    overview = detail.overview
    qtbot.waitUntil(lambda: "(trial 3)" in overview.values["sweep_of"].text(), timeout=LOAD_MS)
    assert overview.values["sweep_of"].isVisibleTo(overview)
    assert re.sub(r"<[^>]+>", "", overview.values["sweep_of"].text()) == f"{sweep} (trial 3)"
    assert not overview.values["parent"].isVisibleTo(overview)  # the Sweep row says it
    assert not overview.sections["#sweep"].isVisibleTo(overview)
    assert "lr = 0.5" in overview.values["params"].text()
    assert overview.values["error"].text().startswith("early termination: bandit policy")
    with qtbot.waitSignal(detail.openRun, timeout=2_000) as opened:
        overview.values["sweep_of"].linkActivated.emit(f"run:{sweep}")
    assert opened.args == [sweep]


def test_a_plain_parents_child_runs_tab_is_unchanged(qtbot: Any, window: Any, engine: Engine,
                                                      project: Path, wait_status: Any) -> None:
    parent = engine.submit(JobSpec(experiment_name="plain", code_dir=project, script="train.py",
                                   arguments=("--points", "2"))).name
    child = engine.submit(JobSpec(experiment_name="plain", code_dir=project, script="train.py",
                                  arguments=("--points", "3"), parent_run=parent)).name
    wait_status(window, child, "Completed")
    detail = window.show_run(parent)
    detail.show_tab("children")
    tab = detail.child_runs
    qtbot.waitUntil(lambda: tab.names() == [child], timeout=LOAD_MS)
    assert tab.columns() == COLUMNS and tab.sweep is None
    assert not tab.chart.isVisibleTo(tab)
    assert tab.summary.text() == "1 child run"
    assert tab.table.topLevelItem(0).text(0) == child
    overview = detail.overview
    qtbot.waitUntil(lambda: overview.run is not None, timeout=LOAD_MS)
    assert not overview.sections["#sweep"].isVisibleTo(overview)
    assert not overview.values["sweep_of"].isVisibleTo(overview)


def test_missing_values_sort_last_in_either_direction(qtbot: Any) -> None:
    tree = QTreeWidget()
    qtbot.addWidget(tree)
    tree.setColumnCount(1)
    for text, key in (("0.5", 0.5), ("", None), ("1e-05", 1e-05), ("12", 12.0)):
        item = SortableItem([text])
        item.setData(0, SortableItem.KEY_ROLE, key)
        item.setData(0, SortableItem.MISSING_ROLE, key is None)
        tree.addTopLevelItem(item)
    tree.setSortingEnabled(True)
    tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert [tree.topLevelItem(i).text(0) for i in range(4)] == ["1e-05", "0.5", "12", ""]
    tree.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert [tree.topLevelItem(i).text(0) for i in range(4)] == ["12", "0.5", "1e-05", ""]


def test_the_runs_table_and_the_trials_page_say_stopped_early_too(qtbot: Any, window: Any, sweep: str) -> None:
    from studio.models.runs import COL_STATUS

    page = window.runs_page
    mine = {sweep, *(f"{sweep}_{i}" for i in range(4))}  # (the module's workspace has other runs too)

    def rows() -> dict[str, str]:
        n = page.model.rowCount()
        runs = [page.run_at(r) for r in range(n)]
        return {run.name: page.model.index(r, COL_STATUS).data() for r, run in enumerate(runs)
                if run is not None and run.name in mine}

    # The trials are folded under their sweep until it is expanded.
    qtbot.waitUntil(lambda: page.model.row_of(sweep) is not None and page.model.has_children(sweep),
                    timeout=LOAD_MS)
    assert len(rows()) == 1
    page.parent_rows.toggle(sweep)
    qtbot.waitUntil(lambda: len(rows()) == 5, timeout=LOAD_MS)
    assert rows() == {sweep: "Completed", f"{sweep}_0": "Completed", f"{sweep}_1": STOPPED_EARLY,
                      f"{sweep}_2": "Completed", f"{sweep}_3": STOPPED_EARLY}
    detail = window.show_run(f"{sweep}_1")
    qtbot.waitUntil(lambda: STOPPED_EARLY in detail.status_label.text(), timeout=LOAD_MS)
