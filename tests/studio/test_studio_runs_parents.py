"""Sweeps (and any run with child runs) as collapsible parent rows of the Runs table, with a real
sweep of three trials: folded by default, a click on the arrow or the arrow keys show and hide the
trials right below their sweep; a search lists every matching run, trials included, flat."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt

from engine.jobs.spec import JobSpec
from engine.specs.jobs import load_job
from studio.models.runs import COL_NAME, COL_TYPE, DEPTH_ROLE, EXPAND_ROLE

LOAD_MS = 20_000

SWEEP = textwrap.dedent("""
    type: sweep
    experiment_name: tune
    trial:
      code: src
      command: python trial.py --lr ${{search_space.lr}}
    sampling_algorithm: grid
    search_space:
      lr: {type: choice, values: [0.1, 0.2, 0.3]}
    objective: {goal: minimize, primary_metric: loss}
    limits: {max_total_trials: 3, max_concurrent_trials: 3}
""").lstrip()

TRIAL = textwrap.dedent("""
    import argparse
    from azureml.core import Run
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float)
    Run.get_context().log("loss", p.parse_args().lr)
""")


def shown(page: Any) -> list[tuple[str, int, Any, str]]:
    """(name, depth, arrow state, type) of every row, top to bottom."""
    m = page.model
    out = []
    for r in range(m.rowCount()):
        run = page.run_at(r)
        ix = m.index(r, COL_NAME)
        out.append(
            (run.name if run else "", ix.data(DEPTH_ROLE), ix.data(EXPAND_ROLE), m.index(r, COL_TYPE).data())
        )
    return out


def test_a_sweep_folds_its_trials_and_unfolds_them_on_click_and_keys(
    qtbot, engine, window, project, tmp_path
):
    src = tmp_path / "tune" / "src"
    src.mkdir(parents=True)
    (src / "trial.py").write_text(TRIAL)
    (tmp_path / "tune" / "sweep.yml").write_text(SWEEP)
    sweep = engine.submit(load_job(tmp_path / "tune" / "sweep.yml")).name
    assert engine.wait(sweep, timeout=120).status == "Completed"
    trials = [t.name for t in engine.children(sweep)]
    assert len(trials) == 3
    plain = engine.submit(
        JobSpec(experiment_name="exp-a", code_dir=project, script="train.py", arguments=("--points", "5"))
    ).name
    engine.wait(plain, timeout=60)

    page = window.runs_page
    window.show_page("runs")
    qtbot.waitUntil(lambda: {n for n, *_ in shown(page)} == {sweep, plain}, timeout=LOAD_MS)
    rows = {n: (depth, state) for n, depth, state, _t in shown(page)}
    assert rows == {sweep: (0, False), plain: (0, None)}  # only the sweep has an arrow
    assert page.count_label.text() == "2 runs"

    # A click on the sweep's arrow shows its trials right below it, indented, oldest first.
    row = page.model.row_of(sweep)
    rect = page.table.visualRect(page.model.index(row, COL_NAME))
    qtbot.mouseClick(
        page.table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 8, rect.center().y())
    )
    qtbot.waitUntil(lambda: len(shown(page)) == 5, timeout=LOAD_MS)
    listed = shown(page)
    at = [n for n, *_ in listed].index(sweep)
    assert listed[at][2] is True
    assert listed[at + 1 : at + 4] == [(t, 1, None, "trial") for t in trials]
    if os.environ.get("TRAINYARD_SHOTS"):
        page.select_names([trials[1]])
        window.grab().save(os.path.join(os.environ["TRAINYARD_SHOTS"], "runs-sweep-expanded.png"))

    # Selecting a trial works as any row (actions, Compare); ← goes to its sweep, ← again folds it.
    page.select_names([trials[1]])
    assert page.selected_names() == [trials[1]]
    page.table.setCurrentIndex(page.model.index(page.model.row_of(trials[1]), COL_NAME))
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Left)
    assert page.selected_names() == [sweep]
    qtbot.keyClick(page.table, Qt.Key.Key_Left)
    assert len(shown(page)) == 2 and page.selected_names() == [sweep]
    qtbot.keyClick(page.table, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: len(shown(page)) == 5, timeout=LOAD_MS)

    # A search lists every run that matches, trials too, flat: no arrows, no indent.
    page.filter_edit.setText("attributes.type = 'trial'")
    qtbot.waitUntil(lambda: sorted(n for n, *_ in shown(page)) == sorted(trials), timeout=LOAD_MS)
    assert all(depth == 0 and state is None for _n, depth, state, _t in shown(page))
    page.filter_edit.setText(sweep)  # words too: the sweep and its trials (their names start with it)
    qtbot.waitUntil(lambda: len(shown(page)) == 4, timeout=LOAD_MS)
    page.filter_edit.clear()
    qtbot.waitUntil(lambda: {n for n, *_ in shown(page)} == {sweep, plain}, timeout=LOAD_MS)


def test_a_run_with_a_child_run_folds_it_too(qtbot, engine, window, project):
    parent = engine.submit(
        JobSpec(experiment_name="exp-a", code_dir=project, script="train.py", arguments=("--points", "5"))
    ).name
    engine.wait(parent, timeout=60)
    child = engine.submit(
        JobSpec(
            experiment_name="exp-a",
            code_dir=project,
            script="train.py",
            arguments=("--points", "3"),
            parent_run=parent,
        )
    ).name
    engine.wait(child, timeout=60)
    page = window.runs_page
    qtbot.waitUntil(lambda: [(n, s) for n, _d, s, _t in shown(page)] == [(parent, False)], timeout=LOAD_MS)
    page.parent_rows.toggle(parent)
    qtbot.waitUntil(
        lambda: [(n, d, t) for n, d, _s, t in shown(page)] == [(parent, 0, "command"), (child, 1, "step")],
        timeout=LOAD_MS,
    )
    # The child changes (tagged) and the row follows, in place.
    engine.update_run(child, display_name="the child")
    qtbot.waitUntil(lambda: page.model.index(1, COL_NAME).data() == "the child", timeout=LOAD_MS)
    assert Path(page.model.get(child).run_dir).is_dir()
