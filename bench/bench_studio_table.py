"""The runs table with 100,000 runs (each with a latest `loss` shown in a metric column);
`--runs 1000000` for a million (the naive peer is left out above 200,000 runs: it would hold
every row in Qt items, minutes and gigabytes).

Trainyard's table asks the store for the row count and reads 256-row blocks off the GUI thread
when they are painted; the store sorts and filters. Side by side, in the same process on the
same workspace: the naive table the studio had before — every run read at start and held in a
QStandardItemModel behind a QSortFilterProxyModel (sorting and filtering in memory).

Each step is timed from the action to the end of the first paint of the table's viewport that
shows every visible row filled (no "…" placeholder), with QApplication.processEvents loops.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = Path(tempfile.mkdtemp(prefix="ty-bench-table-"))
os.environ["XDG_CONFIG_HOME"] = str(_TMP / "config")  # never touch the user's studio settings

N_RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 100_000
NAIVE_MAX_RUNS = 200_000
FILTER_TARGET_MS = 100
EXPERIMENTS_TARGET_MS = 100
REPEATS = int(os.environ.get("TRAINYARD_BENCH_REPEATS", "3"))
FIRST_PAINT_TARGET_MS = 300
TIMEOUT_S = 120.0
STEPS = ("first", "sort", "scroll", "filter")


def seed(store: Any, n: int, experiments: int = 7) -> None:
    """`n` finished runs and a `loss` summary for each, inserted in one transaction."""
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
                         # Nothing in the future: the studio would take such runs for changed ones and reload.
                         "created_at": start - 1, "updated_at": min(start + 5, now), "start_time": start,
                         "end_time": min(start + 5 + i % 60, now), "run_dir": f"/nonexistent/{name}", "arguments": [],
                         "compute": "local", "inputs": {}, "params": {}, "tags": {"seed": str(i % 3)},
                         "properties": {}, "cancel_requested": False, "archived": False})
            summaries.append({"run_name": name, "key": "loss", "kind": "scalar", "count": 100,
                              "last_value": 1.0 / (i + 1), "last_step": 99, "last_timestamp": start + 5})
        conn.execute(insert(RunRow), runs)
        conn.execute(insert(MetricSummaryRow), summaries)


class PaintWatch:
    """Notes each paint of a table's viewport; `filled()` says whether every visible row has data."""

    def __init__(self, view: Any, placeholder: str = "…") -> None:
        from PySide6.QtCore import QEvent, QObject

        self.view = view
        self.placeholder = placeholder
        self.painted = False
        watch = self

        class _Filter(QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:
                if event.type() == QEvent.Type.Paint:
                    watch.painted = True
                return False

        self._filter = _Filter()
        view.viewport().installEventFilter(self._filter)

    def filled(self) -> bool:
        view, model = self.view, self.view.model()
        if model.rowCount() == 0:
            return False
        first = max(0, view.rowAt(0))
        last = view.rowAt(view.viewport().height() - 1)
        last = model.rowCount() - 1 if last < 0 else last
        return all(model.index(r, 0).data() not in (None, "", self.placeholder) for r in range(first, last + 1))

    def until_filled(self, app: Any, action: Callable[[], Any], check: Callable[[], bool] = lambda: True) -> float:
        """Seconds from `action()` to the end of the first paint showing filled rows (and `check()`)."""
        app.processEvents()
        self.painted = False
        t0 = time.perf_counter()
        action()
        while time.perf_counter() - t0 < TIMEOUT_S:
            app.processEvents()
            if self.painted:
                self.painted = False
                if self.filled() and check():
                    return time.perf_counter() - t0
            time.sleep(0.0005)
        raise RuntimeError("the table was not filled in time")


def bench_lazy(app: Any, engine: Any) -> dict[str, list[float]]:
    from studio.browsers.runs import SETTINGS_KEY, settings

    settings().setValue(SETTINGS_KEY, ["loss"])
    out: dict[str, list[float]] = {k: [] for k in STEPS}
    for _ in range(REPEATS):
        for key, seconds in _lazy_once(app, engine).items():
            out[key].append(seconds)
    return out


def _lazy_once(app: Any, engine: Any) -> dict[str, float]:
    """One fresh main window: show it, sort, scroll to the end, filter."""
    from studio import tasks
    from studio.mainwindow import MainWindow
    from studio.models.runs import COL_NAME

    w = MainWindow(engine, restore=False, poll_ms=500)
    w.resize(1280, 800)
    page = w.runs_page
    model = page.model
    watch = PaintWatch(page.table)
    out = {}
    try:
        out["first"] = watch.until_filled(app, w.show, lambda: model.rowCount() == N_RUNS)
        out["sort"] = watch.until_filled(app, lambda: page.table.sortByColumn(COL_NAME, _order("asc")),
                                         lambda: model.index(0, COL_NAME).data() == "run_000000")
        out["scroll"] = watch.until_filled(app, page.table.scrollToBottom,
                                           lambda: model.loaded_run(model.rowCount() - 1) is not None)
        out["filter"] = watch.until_filled(app, lambda: (page.filter_edit.setText("exp-3"), page._apply_filter()),
                                           lambda: 0 < model.rowCount() < N_RUNS)
    finally:
        w.shutdown()
        w.close()
        tasks.wait_all()
        w.deleteLater()
        app.processEvents()
    return out


def bench_naive(app: Any, engine: Any) -> dict[str, float]:
    """Every run read up front into a QStandardItemModel; a proxy sorts and filters in memory."""
    from PySide6.QtCore import QSortFilterProxyModel, Qt
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QTableView

    from studio.style import fmt_duration, fmt_time, run_duration

    view = QTableView()
    view.resize(1280, 700)
    watch = PaintWatch(view)
    proxy = QSortFilterProxyModel()
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def load() -> None:
        runs = engine.store.list_runs()
        latest = engine.store.latest_values([r.name for r in runs], ["loss"])
        model = QStandardItemModel(0, 8)
        model.setHorizontalHeaderLabels(["Name", "Status", "Experiment", "Compute", "Started", "Duration",
                                         "Tags", "loss"])
        root = model.invisibleRootItem()
        for r in runs:
            root.appendRow([QStandardItem(t) for t in (
                r.display_name, r.status, r.experiment_name, r.compute, fmt_time(r.start_time),
                fmt_duration(run_duration(r.start_time, r.end_time)), ", ".join(f"{k}={v}" for k, v in r.tags.items()),
                f"{latest.get(r.name, {}).get('loss', 0.0):.4g}")])
        proxy.setSourceModel(model)
        view.setModel(proxy)
        view.show()

    out = {"first": watch.until_filled(app, load, lambda: proxy.rowCount() == N_RUNS)}
    out["sort"] = watch.until_filled(app, lambda: view.sortByColumn(0, _order("asc")),
                                     lambda: proxy.index(0, 0).data() == "run_000000")
    out["scroll"] = watch.until_filled(app, view.scrollToBottom,
                                       lambda: view.rowAt(view.viewport().height() - 1) in (-1, N_RUNS - 1))
    out["filter"] = watch.until_filled(app, lambda: proxy.setFilterFixedString("exp-3"),
                                       lambda: 0 < proxy.rowCount() < N_RUNS)
    view.close()
    return out


def _order(which: str) -> Any:
    from PySide6.QtCore import Qt

    return Qt.SortOrder.AscendingOrder if which == "asc" else Qt.SortOrder.DescendingOrder


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from engine.api import Engine

    app = QApplication.instance() or QApplication(["bench"])
    app.setStyle("Fusion")
    engine = Engine.open(_TMP / "ws")
    try:
        t0 = time.perf_counter()
        seed(engine.store, N_RUNS)
        seed_s = time.perf_counter() - t0
        lazy = bench_lazy(app, engine)
        experiments = []
        for _ in range(max(REPEATS, 5)):
            t0 = time.perf_counter()
            listed = engine.list_experiments()
            experiments.append(time.perf_counter() - t0)
        assert sum(e.run_count for e in listed) == N_RUNS
        naive = bench_naive(app, engine) if N_RUNS <= NAIVE_MAX_RUNS else None
    finally:
        engine.close()
        shutil.rmtree(_TMP, ignore_errors=True)

    def ms(x: float) -> str:
        return f"{x * 1000:,.0f} ms"

    print(f"### Runs table with {N_RUNS:,} runs (+ a `loss` column): action → table painted with its rows filled "
          f"(offscreen, median of {REPEATS}; seeding took {seed_s:.1f} s)")
    print()
    print("| step | trainyard (lazy, store sorts and filters) | naive (all rows in a QStandardItemModel) "
          "| naive / trainyard | target |")
    print("|---|---|---|---|---|")
    labels = {"first": "window shown → first paint with rows", "sort": "sort by name → repaint",
              "scroll": "scroll to the end → filled", "filter": "filter `exp-3` → repaint"}
    ok = True
    targets = {"first": FIRST_PAINT_TARGET_MS, "filter": FILTER_TARGET_MS}
    for key, label in labels.items():
        mine = statistics.median(lazy[key])
        target = f"≤ {targets[key]} ms" if key in targets else ""
        if key == "first":
            ok = mine * 1000 <= FIRST_PAINT_TARGET_MS * 2  # noisy machines: fail only when far off
        peer = (ms(naive[key]), f"{naive[key] / mine:.1f}x") if naive is not None else ("not run", "")
        print(f"| {label} | {ms(mine)} (worst {ms(max(lazy[key]))}) | {peer[0]} | {peer[1]} | {target} |")
    print(f"| experiment list (store, {len(listed)} experiments with run counts) | {ms(statistics.median(experiments))} "
          f"(worst {ms(max(experiments))}) | | | ≤ {EXPERIMENTS_TARGET_MS} ms |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
