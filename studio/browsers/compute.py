"""The Compute page: where runs can go (built-in and registered targets), whether each can take a
run now, this machine's GPUs, and the runs active on each target."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

from engine import entities as E
from studio.browsers.detail import DetailPane, split
from studio.browsers.page import RefreshedPage
from studio.browsers.refresh import Refresher
from studio.models.compute import (
    COL_DESCRIPTION,
    COL_GPUS,
    COL_NAME,
    TYPE_LABELS,
    ComputeInventory,
    ComputeRow,
    ComputeTableModel,
    JobTableModel,
    load_compute,
)
from studio.models.rows import ROW_ROLE, SORT_ROLE
from studio.models.runs import RunTableModel
from studio.style import fmt_time_full, heading, muted, plural
from studio.widgets import EmptyState, FilterProxy, make_table

REFRESH_MS = 10_000  # the Docker daemon may start or stop while the page is open
TYPE_HELP = {
    "local": "jobs run as processes on this machine (or in local Docker when their environment is an image)",
    "docker": "jobs always run in containers of the local Docker daemon",
    "ssh": "jobs run on another machine over SSH",
}
CONFIG_LABELS = (("network", "Network"), ("gpus", "GPUs requested"), ("image", "Default image"),
                 ("max_concurrent_runs", "Max concurrent runs"), ("host", "Host"), ("port", "Port"),
                 ("user", "User"), ("key_file", "Key file"), ("docker", "Docker on host"))


class ComputeBrowser(RefreshedPage):
    """`openRun(name)` asks for the detail of a run listed under a target."""

    openRun = Signal(str)

    def __init__(self, engine: Any, bridge: Any, runs: RunTableModel, parent: QWidget | None = None) -> None:
        super().__init__("Compute", parent)
        self.setObjectName("compute")
        self.engine = engine
        self._inventory: ComputeInventory | None = None
        self._active: dict[str, E.Run] = {r.name: r for r in runs.runs() if not r.is_terminal}
        self.model = ComputeTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter compute targets", self.proxy)
        self.table = make_table(self.proxy, ["gpu-box-under", "local (built in)", "not available in this version",
                                             "Jobs", "all (none here)", "Description"], stretch=COL_GPUS)
        self.table.setColumnHidden(COL_DESCRIPTION, True)  # the detail's subtitle
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.detail = DetailPane("Select a compute target to see its settings and the runs on it.")
        self.jobs_title = heading("Running jobs", 1.0)
        self.jobs_model = JobTableModel(self)
        self.jobs_proxy = FilterProxy(SORT_ROLE, self)
        self.jobs_proxy.setSourceModel(self.jobs_model)
        self.jobs_table = make_table(self.jobs_proxy, ["wonderful_river_ab", "Running ", "experiment", "10m 00s"],
                                     stretch=0)
        self.jobs_table.activated.connect(self._job_activated)
        self.jobs_none = muted(QLabel("No run is active on this target."))
        self.jobs_none.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.detail.body.addSpacing(6)
        self.detail.body.addWidget(self.jobs_title)
        self.detail.body.addWidget(self.jobs_none)
        self.detail.body.addWidget(self.jobs_table, 1)
        self.detail.body.addStretch(0)  # takes the space while the table is hidden

        self.empty = EmptyState("No compute targets",
                                "Create one with `trainyard compute create --name NAME --type docker`.")
        self.set_body(split(self.table, self.detail), self.empty)
        self.refresher = Refresher(self, lambda: load_compute(engine), self._loaded, every_ms=REFRESH_MS)
        bridge.runsChanged.connect(self._on_runs)

    def _on_runs(self, runs: list[E.Run]) -> None:
        changed = False
        for run in runs:
            if not run.is_terminal:
                self._active[run.name] = run
                changed = True
            elif self._active.pop(run.name, None) is not None:
                changed = True
        if changed and self._inventory is not None:
            self._rebuild_rows()

    def _loaded(self, inventory: ComputeInventory) -> None:
        self._inventory = inventory
        self._rebuild_rows()
        if not self.table.selectionModel().hasSelection() and self.proxy.rowCount():
            self.table.selectRow(0)

    def _rebuild_rows(self) -> None:
        inv = self._inventory
        assert inv is not None
        by_target: dict[str, list[E.Run]] = {}
        for run in self._active.values():
            by_target.setdefault(run.compute, []).append(run)
        rows = [ComputeRow(t, inv.states[t.name], inv.gpus,
                           tuple(sorted(by_target.get(t.name, []), key=lambda r: -r.created_at)))
                for t in inv.targets]
        self.model.set_rows(rows)
        self.show_table(bool(rows))
        busy = sum(len(r.jobs) for r in rows)
        self.count_label.setText(f"{plural(len(rows), 'target')}, {plural(busy, 'active run')}")
        self._show_selected()

    def select(self, name: str) -> bool:
        return self.select_where(lambda row: row.target.name == name)

    def _show_selected(self) -> None:
        row = self.selected()
        if row is None:
            self.detail.show_hint()
            return
        t = row.target
        self.detail.set_header(t.name, t.description)
        config = [(label, _value(t.config[key])) for key, label in CONFIG_LABELS if key in t.config]
        gpus = "\n".join(g.summary for g in row.gpus.gpus) or row.gpus.summary
        self.detail.set_fields([
            ("Type", TYPE_LABELS.get(t.type, t.type) + (" (built in)" if t.builtin else "")
             + ("" if t.description else f": {TYPE_HELP.get(t.type, '')}")),
            ("State", f"{row.state.state}" + (f": {row.state.detail}" if row.state.detail else "")),
            ("Created", "built in" if t.builtin else fmt_time_full(t.created_at)),
            *config,
            ("GPUs here", gpus),
        ])
        self.jobs_model.set_rows(row.jobs)
        self.jobs_title.setText(f"Running jobs ({len(row.jobs)})")
        self.jobs_table.setVisible(bool(row.jobs))
        self.jobs_none.setVisible(not row.jobs)

    def _job_activated(self, index: QModelIndex) -> None:
        run = index.siblingAtColumn(0).data(ROW_ROLE)
        if run is not None:
            self.openRun.emit(run.name)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v == -1:
        return "all"
    return str(v)
