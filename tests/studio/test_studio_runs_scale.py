"""The runs table with 100,000 runs: it shows them all, fills the first screen, fetches the last
block when scrolled to the end and filters in the store, while the bridge never loads them all."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.bridge import RECENT_RUNS
from studio.models.runs import COL_EXPERIMENT, COL_NAME, LOADING

N = 100_000


def seed_runs(store: Any, n: int, experiments: int = 7) -> None:
    """Insert `n` finished runs (rows only, in one transaction): run_000000 is the oldest."""
    from sqlalchemy import insert

    from engine.store.models import ExperimentRow, MetricSummaryRow, RunRow

    now = time.time()
    with store.engine.begin() as conn:
        conn.execute(insert(ExperimentRow), [{"id": i + 1, "name": f"exp-{i}", "created_at": now - n}
                                             for i in range(experiments)])
        runs, summaries = [], []
        for i in range(n):
            name = f"run_{i:06d}"
            start = now - n + i
            runs.append({"name": name, "experiment_id": i % experiments + 1, "display_name": name,
                         "description": "", "status": "Failed" if i % 10 == 3 else "Completed",
                         "created_at": start - 1, "updated_at": start + 5, "start_time": start,
                         "end_time": start + 5 + i % 60, "run_dir": f"/nonexistent/{name}", "arguments": [],
                         "compute": "local", "inputs": {}, "params": {}, "tags": {}, "properties": {},
                         "cancel_requested": False, "archived": False})
            summaries.append({"run_name": name, "key": "loss", "kind": "scalar", "count": 100,
                              "last_value": 1.0 / (i + 1), "last_step": 99, "last_timestamp": start + 5})
        conn.execute(insert(RunRow), runs)
        conn.execute(insert(MetricSummaryRow), summaries)


def visible_names(page: Any) -> list[str]:
    table = page.table
    first = table.rowAt(0)
    last = table.rowAt(table.viewport().height() - 1)
    last = page.model.rowCount() - 1 if last < 0 else last
    return [page.model.index(r, COL_NAME).data() for r in range(first, last + 1)]


def test_a_table_of_100000_runs_stays_lazy_and_fast(qtbot, engine):
    from studio import tasks
    from studio.mainwindow import MainWindow

    seed_runs(engine.store, N)
    w = MainWindow(engine, restore=False, poll_ms=200)
    qtbot.addWidget(w)
    w.resize(1200, 760)
    w.show()
    try:
        page = w.runs_page
        qtbot.waitUntil(page.is_ready, timeout=20_000)
        assert page.model.rowCount() == N
        assert page.count_label.text() == "100,000 runs"
        assert len(w.runs_model.runs()) <= RECENT_RUNS  # the bridge did not load every run
        assert page.model.row_of("run_000000") is None  # only the blocks on screen are read

        # The first screen is filled: newest first.
        qtbot.waitUntil(lambda: LOADING not in visible_names(page), timeout=5_000)
        shown = visible_names(page)
        assert len(shown) > 10 and shown[:2] == [f"run_{N - 1:06d}", f"run_{N - 2:06d}"]

        # Scrolling to the end fetches the last block.
        page.table.scrollToBottom()
        QApplication.processEvents()
        qtbot.waitUntil(lambda: visible_names(page)[-1:] == ["run_000000"], timeout=10_000)
        assert LOADING not in visible_names(page)

        # Filtering narrows in the store (how fast is BENCHMARKS.md's "filter `exp-3` → repaint").
        in_exp3 = sum(1 for i in range(N) if i % 7 == 3)
        page.filter_edit.setText("exp-3")
        qtbot.waitUntil(lambda: page.model.rowCount() == in_exp3 and LOADING not in visible_names(page),
                        timeout=10_000)
        assert {page.model.index(r, COL_EXPERIMENT).data() for r in range(20)} == {"exp-3"}
        assert page.count_label.text() == f"{in_exp3:,} of 100,000 runs"
        page.filter_edit.setText("run_012345")
        qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: visible_names(page) == ["run_012345"], timeout=5_000)

        # Sorting by name ascending puts the oldest first.
        page.filter_edit.setText("")
        page.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        qtbot.waitUntil(lambda: page.model.rowCount() == N and visible_names(page)[:1] == ["run_000000"],
                        timeout=10_000)
    finally:
        w.shutdown()
        tasks.wait_all()
