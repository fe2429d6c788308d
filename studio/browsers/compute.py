"""The Compute page: where runs can go (built-in and registered targets), whether each can take a
run now, this machine's GPUs, and the runs active on each target."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QWidget

from engine import entities as E
from studio.browsers.detail import DetailPane, split
from studio.browsers.page import RefreshedPage
from studio.browsers.refresh import Refresher
from studio.dialogs.compute import ComputeDialog
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
    slurm_summary,
)
from studio.models.rows import ROW_ROLE, SORT_ROLE
from studio.models.runs import RunTableModel
from studio.style import fmt_time_full, heading, muted, plural
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState, FilterProxy, make_table

REFRESH_MS = 10_000  # the Docker daemon may start or stop while the page is open
TYPE_HELP = {
    "local": "jobs run as processes on this machine (or in local Docker when their environment is an image)",
    "docker": "jobs always run in containers of the local Docker daemon",
    "ssh": "jobs run on another machine over SSH",
    "slurm": "jobs are submitted to a Slurm cluster (sbatch on its login node)",
}
CONFIG_LABELS = (("network", "Network"), ("gpus", "GPUs requested"), ("image", "Default image"),
                 ("max_concurrent_runs", "Max concurrent runs"), ("host", "Host"), ("port", "Port"),
                 ("user", "User"), ("key_file", "Key file"), ("docker", "Docker on host"),
                 ("local", "This machine is the login node"), ("partition", "Partition"), ("account", "Account"),
                 ("qos", "QOS"), ("time_limit", "Time limit"), ("gpu_request", "GPU request"),
                 ("work_dir", "Work folder"), ("sbatch", "Extra #SBATCH lines"))


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
        self.dialog: ComputeDialog | None = None
        self._pending_select: str | None = None  # a just-saved target to show
        self.add_button = QPushButton("Add compute…")
        self.add_button.setToolTip("A local alias, the local Docker daemon, an SSH host (e.g. a GPU box) or a Slurm cluster")
        self.add_button.clicked.connect(lambda: self.open_dialog())  # noqa: PLW0108 - not clicked(checked) as target
        self.controls.addWidget(self.add_button)
        self.table = make_table(self.proxy, ["gpu-box-under", "local (built in)", "not available in this version",
                                             "Jobs", "all (none here)", "Description"], stretch=COL_GPUS)
        self.table.setColumnHidden(COL_DESCRIPTION, True)  # the detail's subtitle
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.detail = DetailPane("Select a compute target to see its settings and the runs on it.")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self._edit_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.detail.actions.addWidget(self.edit_button)
        self.detail.actions.addWidget(self.delete_button)
        self.detail.actions.addStretch(1)
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
                                "Click Add compute…, or run `trainyard compute create --name NAME --type docker`.")
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
        if self._pending_select is not None and self.select(self._pending_select):
            self._pending_select = None
        elif not self.table.selectionModel().hasSelection() and self.proxy.rowCount():
            self.table.selectRow(0)

    def _rebuild_rows(self) -> None:
        inv = self._inventory
        assert inv is not None
        by_target: dict[str, list[E.Run]] = {}
        for run in self._active.values():
            by_target.setdefault(run.compute, []).append(run)
        rows = [ComputeRow(t, inv.states[t.name], inv.gpus_of(t),
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
        report = self._inventory.reports.get(t.name) if self._inventory is not None else None
        used = "; ".join(f"GPU {i}: {run}" for i, run in sorted(report.used_by.items())) if report else ""
        waiting = ", ".join(report.waiting) if report else ""
        if t.type == "slurm":
            cluster = self._inventory.clusters.get(t.name) if self._inventory is not None else None
            self.detail.set_fields([
                ("Type", TYPE_LABELS["slurm"] + ("" if t.description else f": {TYPE_HELP['slurm']}")),
                ("State", f"{row.state.state}" + (f": {row.state.detail}" if row.state.detail else "")),
                ("Created", fmt_time_full(t.created_at)),
                *config,
                *(slurm_summary(cluster) if cluster is not None else [("Cluster", "not asked: Slurm did not answer")]),
            ])
        else:
            self._show_fields(row, config, gpus, used, waiting)
        self.edit_button.setEnabled(not t.builtin)
        self.delete_button.setEnabled(not t.builtin)
        self.jobs_model.set_rows(row.jobs)
        self.jobs_title.setText(f"Running jobs ({len(row.jobs)})")
        self.jobs_table.setVisible(bool(row.jobs))
        self.jobs_none.setVisible(not row.jobs)

    def _show_fields(self, row: ComputeRow, config: list[tuple[str, str]], gpus: str, used: str,
                     waiting: str) -> None:
        t = row.target
        self.detail.set_fields([
            ("Type", TYPE_LABELS.get(t.type, t.type) + (" (built in)" if t.builtin else "")
             + ("" if t.description else f": {TYPE_HELP.get(t.type, '')}")),
            ("State", f"{row.state.state}" + (f": {row.state.detail}" if row.state.detail else "")),
            ("Created", "built in" if t.builtin else fmt_time_full(t.created_at)),
            *config,
            ("GPUs on the host" if t.type == "ssh" else "GPUs here", gpus),
            *([("GPUs in use", used)] if used else []),
            *([("Waiting for GPUs", waiting)] if waiting else []),
        ])

    # ------------------------------------------------------------------ add, edit, delete
    def open_dialog(self, target: E.ComputeTarget | None = None) -> ComputeDialog:
        """Add compute… (no `target`) or Edit… of a registered target."""
        if self.dialog is not None:
            self.dialog.close()
        dialog = ComputeDialog(self.engine, self, target)
        dialog.saved.connect(self._saved)
        dialog.finished.connect(lambda _code: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _edit_selected(self) -> None:
        row = self.selected()
        if row is not None and not row.target.builtin:
            self.open_dialog(row.target)

    def _saved(self, target: E.ComputeTarget) -> None:
        self._pending_select = target.name
        self.refresher.request()
        self._status(f"Saved compute target {target.name}")

    def delete_selected(self) -> QMessageBox | None:
        """Ask, then delete the selected target (runs that used it keep its name)."""
        row = self.selected()
        if row is None or row.target.builtin:
            return None
        name = row.target.name
        box = QMessageBox(QMessageBox.Icon.Question, "Delete compute target",
                          f"Delete compute target {name}? Runs that used it keep its name; jobs that name it "
                          "can no longer be submitted.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(button: int) -> None:
            if button == QMessageBox.StandardButton.Yes:
                (BackgroundOp(self, lambda: self.engine.delete_compute_target(name), serial=True)
                 .success(lambda _t: (self._status(f"Deleted compute target {name}"), self.refresher.request()))
                 .run())

        box.finished.connect(lambda _r: answered(box.standardButton(box.clickedButton())))
        box.open()
        return box

    def _status(self, text: str) -> None:
        bar = getattr(self.window(), "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 8000)

    def _job_activated(self, index: QModelIndex) -> None:
        run = index.siblingAtColumn(0).data(ROW_ROLE)
        if run is not None:
            self.openRun.emit(run.name)


def _value(v: Any) -> str:
    if isinstance(v, list):  # a Slurm target's extra #SBATCH lines
        return "\n".join(map(str, v))
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v == -1:
        return "all"
    return str(v)
