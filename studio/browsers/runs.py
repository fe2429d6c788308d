"""The Runs page: every run of the workspace (the store filters, sorts and pages), live.

Multi-select runs to compare them; the context menu cancels, re-runs, downloads outputs,
registers a model or archives. Every action calls the engine in the background.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QAction, QDesktopServices, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QWidget,
)

from engine import entities as E
from engine.errors import NotFound
from studio.browsers.parentrows import ParentRows
from studio.browsers.runviews import fill_views_menu
from studio.browsers.welcome import WelcomePanel
from studio.dialogs.editrun import EditRunDialog, save_run
from studio.dialogs.register_model import RegisterModelDialog
from studio.errors import show_error
from studio.models.runs import COL_NAME, COL_STARTED, COL_TAGS, COL_TYPE, COLUMNS, RUN_ROLE, RunTableModel
from studio.style import STATUS_COLORS
from studio.tasks import BackgroundOp
from studio.tensorboards import TensorBoards
from studio.widgets import Page, make_table

FILTER_PLACEHOLDER = "Find runs, or search: metrics.loss < 0.3"
SEARCH_HELP = ("Words find runs by name, status, experiment, compute or tag.\n"
               "Or search as in MLflow, evaluated by the store:\n"
               "  metrics.val_loss < 0.3 and params.lr > 1e-3 and tags.stage = 'dev'\n"
               "  attributes.status IN ('Failed', 'Canceled')   attributes.type = 'sweep'\n"
               "metrics. compare the latest value; =, !=, <, <=, >, >=, LIKE, ILIKE; AND between clauses.")
SETTINGS_KEY = "runsTable/metricColumns"
PARAMS_KEY = "runsTable/paramColumns"
FILTER_DELAY_MS = 200  # typing "alpha" runs one store query, not five
COLUMN_SAMPLES = ["wonderful_river_abcd1234x", "Stopped early  ", "pipeline ", "experiment-name", "compute",
                  "Yesterday 00:00:00", "10m 00s", "key=value, key=value"]
METRIC_SAMPLE = "-0.001234 "


def settings() -> QSettings:
    return QSettings("Trainyard", "Trainyard")  # the application's settings (as studio.mainwindow)


class RunBrowser(Page):
    """Lists the runs of the shared `RunTableModel`.

    Signals: openRun(name) asks for a run's detail; compareRequested(names) for a comparison
    of two or more selected runs.
    """

    openRun = Signal(str)
    compareRequested = Signal(list)
    cloneRequested = Signal(str)
    exampleRequested = Signal()

    def __init__(self, engine: Any, bridge: Any, model: RunTableModel, parent: QWidget | None = None) -> None:
        super().__init__("Runs", parent)
        self.engine = engine
        self.bridge = bridge
        self.model = model
        self.tensorboards = TensorBoards(engine)  # ended by the main window's shutdown
        self._restore: list[str] = []  # selected run names, put back after the rows are re-read
        self._metric_keys: list[str] = []

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText(FILTER_PLACEHOLDER)
        self.filter_edit.setToolTip(SEARCH_HELP)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(460)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(lambda _t: self._filter_timer.start())
        self.controls.addWidget(self.filter_edit, 1)
        self.archived_box = QCheckBox("Show archived")
        self.archived_box.setToolTip("Archived runs are hidden from this list; their files and metrics are kept")
        self.archived_box.toggled.connect(lambda on: self.model.set_query(include_archived=on))
        self.controls.addWidget(self.archived_box)
        self.controls.addStretch(1)
        self.columns_button = QPushButton("Columns")
        self.columns_button.setToolTip("Show the latest value of chosen metrics, and chosen parameters, as columns")
        self.columns_menu = QMenu(self)
        self.columns_menu.aboutToShow.connect(self._fill_columns_menu)
        self.columns_button.setMenu(self.columns_menu)
        self.controls.addWidget(self.columns_button)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Overlay the metrics of the selected runs (select two or more)")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self.compare_selected)
        self.controls.addWidget(self.compare_button)

        # Tags take the room left over: names keep their width however many metric columns are shown.
        self.table = make_table(model, COLUMN_SAMPLES, stretch=COL_TAGS)  # type: ignore[arg-type]
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._sort_indicator_changed)
        self.table.sortByColumn(COL_STARTED, Qt.SortOrder.DescendingOrder)
        self.table.activated.connect(self._activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        header = self.table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(
            lambda pos: self.columns_menu.popup(header.mapToGlobal(pos)))
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.parent_rows = ParentRows(self.table, model)  # sweeps and pipelines fold their children
        # F2 edits a run's display name or tags in place (a double click opens the run).
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        model.editRequested.connect(self.save_edit)
        model.editRejected.connect(lambda exc: show_error(self, exc))
        self.query_error = QLabel()
        self.query_error.setWordWrap(True)
        self.query_error.setStyleSheet(f"color: {STATUS_COLORS['Failed']}")
        self.query_error.setToolTip(SEARCH_HELP)
        self.query_error.hide()
        self._lay.insertWidget(2, self.query_error)
        self._lay.insertWidget(3, self._build_actions())
        model.queryError.connect(self._query_error)
        self.empty = WelcomePanel()  # an empty workspace: the example, a folder, the CLI
        self.empty.runExample.connect(self.exampleRequested)
        self.set_body(self.table, self.empty)

        model.modelAboutToBeReset.connect(self._remember_selection)
        model.modelReset.connect(self._layout_columns)
        model.queryApplied.connect(self._restore_selection)
        model.countsChanged.connect(self._update_counts)
        self.experiment: str | None = None  # shown by show_experiment: its own remembered columns
        self._load_columns()
        model.set_engine(engine)
        self._load_metric_keys()
        self._update_counts(model.rowCount(), model.total_count)

    def is_ready(self) -> bool:
        return bool(self.bridge.is_loaded) and self.model.is_ready()

    def _build_actions(self) -> QToolBar:
        """The run actions (also in the context menu) for the selected run(s), and the saved views:
        a toolbar, so that a narrow window moves what does not fit into its » menu."""
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.setStyleSheet("QToolBar { border: none; spacing: 4px; }")
        specs = [
            ("rerun", "Re-run", "Run the selected run again: same code snapshot, command, environment, compute",
             lambda: [self.rerun(n) for n in self.selected_names()]),
            ("clone", "Clone && edit…", "Open the Submit dialog filled from the selected run, change it, submit",
             lambda: self.cloneRequested.emit(self.selected_names()[0])),
            ("edit", "Edit…", ("Change the selected run's display name, description and tags "
             "(F2 edits a name or the tags in place)"), lambda: self.edit_run(self.selected_names()[0])),
            ("cancel", "Cancel", "Stop the selected runs that are still going",
             lambda: [self.cancel_run(n) for n in self._cancelable()]),
            ("archive", "Archive", "Hide the selected runs from this list (nothing is deleted)",
             self._archive_selected),
            ("register", "Register model…", "Register a file of the selected run's outputs as a model",
             self._choose_model_of_selected),
        ]
        self.run_actions: dict[str, QAction] = {}
        for key, text, tip, slot in specs:
            action = bar.addAction(text)
            action.setToolTip(tip)
            action.triggered.connect(lambda _c=False, f=slot: f())
            self.run_actions[key] = action
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.views_menu = QMenu(self)
        self.views_menu.aboutToShow.connect(lambda: fill_views_menu(
            self.views_menu, self, lambda: (self.filter_edit.text(), self.model.metric_columns()), self.apply_view))
        views = bar.addAction("Views")
        views.setToolTip("Saved views: a query and its metric columns under a name")
        views.setMenu(self.views_menu)
        button = bar.widgetForAction(views)
        if isinstance(button, QToolButton):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.actions_bar = bar
        self._update_actions()
        return bar

    def action_button(self, key: str) -> QWidget:
        """The toolbar button of a run action (what a click lands on)."""
        return self.actions_bar.widgetForAction(self.run_actions[key])

    def _cancelable(self) -> list[str]:
        runs = (self.model.get(n) for n in self.selected_names())
        return [r.name for r in runs if r is not None and not r.is_terminal and not r.cancel_requested]

    def _archive_selected(self) -> None:
        names = self.selected_names()
        archived = [n for n in names if self.model.is_archived(n)]
        if archived and len(archived) == len(names):
            self.set_archived(names, False)
        elif names:
            self.set_archived(names, True)

    def _choose_model_of_selected(self) -> None:
        names = self.selected_names()
        run = self.model.get(names[0]) if names else None
        if run is not None:
            self._choose_model(run)

    def _update_actions(self) -> None:
        names = self.selected_names()
        one = len(names) == 1
        b = self.run_actions
        b["rerun"].setEnabled(bool(names))
        b["clone"].setEnabled(one)
        b["edit"].setEnabled(one)
        b["register"].setEnabled(one)
        b["cancel"].setEnabled(bool(self._cancelable()))
        b["archive"].setEnabled(bool(names))
        all_archived = bool(names) and all(self.model.is_archived(n) for n in names)
        b["archive"].setText("Unarchive" if all_archived else "Archive")

    def show_experiment(self, experiment: str) -> None:
        """The runs of one experiment, with the metric and parameter columns last chosen for it
        (the first time, those chosen for all runs). Changing the filter leaves the experiment."""
        self.experiment = experiment
        self._load_columns()
        self.filter_edit.setText(experiment)
        self._apply_filter()

    def _columns_key(self, key: str) -> str:
        """Where the columns are remembered: per experiment while one is shown, else for all runs."""
        if self.experiment is None:
            return key
        return f"runsTable/experiments/{quote(self.experiment, safe='')}/{key.rsplit('/', 1)[1]}"

    def _load_columns(self) -> None:
        for key, show in ((SETTINGS_KEY, self.model.set_metric_columns), (PARAMS_KEY, self.model.set_param_columns)):
            saved = settings().value(self._columns_key(key))
            if saved is None:
                saved = settings().value(key, [])
            show([str(k) for k in (saved if isinstance(saved, list) else [saved]) if k])

    def apply_view(self, query: str, columns: list[str]) -> None:
        """Show a saved view: its query and its metric columns."""
        self.model.set_metric_columns(columns)
        settings().setValue(self._columns_key(SETTINGS_KEY), columns)
        self.filter_edit.setText(query)
        self._apply_filter()

    def _query_error(self, message: str) -> None:
        self.query_error.setText(message)
        self.query_error.setVisible(bool(message))

    # ---------------------------------------------------------------- filter, counts, columns
    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        if self.experiment is not None and self.filter_edit.text().strip() != self.experiment:
            self.experiment = None  # the filter moved away from the experiment: the general columns
            self._load_columns()
        self.model.set_query(text=self.filter_edit.text())
        self.table.scrollToTop()

    def _update_counts(self, shown: int, total: int) -> None:
        self.show_table(total > 0 or self.model.query.include_archived)
        noun = "run" if total == 1 else "runs"
        self.count_label.setText(f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,} {noun}")

    def _sort_indicator_changed(self, column: int, _order: Qt.SortOrder) -> None:
        if column in (COL_TAGS, COL_TYPE) or self.model.is_param_column(column):  # the store cannot sort by these
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(self.model.sort_column(), Qt.SortOrder.DescendingOrder
                                    if self.model.query.descending else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)

    def _layout_columns(self) -> None:
        fm = QFontMetrics(self.table.font())
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS), self.model.columnCount()):  # metric and parameter columns
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            key = self.model.headerData(col, Qt.Orientation.Horizontal)
            self.table.setColumnWidth(col, max(fm.horizontalAdvance(METRIC_SAMPLE), fm.horizontalAdvance(key)) + 28)
        header.setSectionResizeMode(COL_TAGS, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(self.model.sort_column(), Qt.SortOrder.DescendingOrder
                                if self.model.query.descending else Qt.SortOrder.AscendingOrder)

    def _load_metric_keys(self) -> None:
        BackgroundOp(self, self.engine.metric_keys).success(self._got_metric_keys).failure(lambda _e: None).run()

    def _got_metric_keys(self, keys: list[str]) -> None:
        self._metric_keys = keys

    def _fill_columns_menu(self) -> None:
        self.columns_menu.clear()
        shown = self.model.metric_columns()
        keys = sorted(set(self._metric_keys) | set(shown))
        self.columns_menu.addSection("Metrics (latest value)")
        if not keys:
            note = self.columns_menu.addAction("No metrics logged yet")
            note.setEnabled(False)
        for key in keys:
            action = self.columns_menu.addAction(key)
            action.setCheckable(True)
            action.setChecked(key in shown)
            action.toggled.connect(lambda on, k=key: self.show_metric_column(k, on))
        params = self.model.param_columns()
        self.columns_menu.addSection("Parameters")
        for key in sorted(set(self.model.param_keys_loaded()) | set(params)) or ["(none in the runs listed)"]:
            action = self.columns_menu.addAction(key)
            action.setCheckable(key in params or key in self.model.param_keys_loaded())
            action.setEnabled(action.isCheckable())
            action.setChecked(key in params)
            action.toggled.connect(lambda on, k=key: self.show_param_column(k, on))
        self._load_metric_keys()  # new keys appear the next time the menu opens

    def show_metric_column(self, key: str, shown: bool = True) -> None:
        """Add (or remove) a column with the latest value of metric `key`; remembered."""
        keys = [k for k in self.model.metric_columns() if k != key] + ([key] if shown else [])
        self.model.set_metric_columns(keys)
        settings().setValue(self._columns_key(SETTINGS_KEY), keys)

    def show_param_column(self, key: str, shown: bool = True) -> None:
        """Add (or remove) a column with each run's value of parameter `key`; remembered."""
        keys = [k for k in self.model.param_columns() if k != key] + ([key] if shown else [])
        self.model.set_param_columns(keys)
        settings().setValue(self._columns_key(PARAMS_KEY), keys)

    # ---------------------------------------------------------------- selection
    def run_at(self, row: int) -> E.Run | None:
        return self.model.loaded_run(row)

    def selected_names(self) -> list[str]:
        """The selected runs whose rows are loaded, top to bottom."""
        rows = sorted({r for rng in self.table.selectionModel().selection()
                       for r in range(rng.top(), rng.bottom() + 1)})
        runs = (self.model.loaded_run(r) for r in rows)
        return [run.name for run in runs if run is not None]

    def select_names(self, names: list[str]) -> None:
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for name in names:
            row = self.model.row_of(name)
            if row is not None:
                selection.select(self.model.index(row, 0), self.model.index(row, last))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.table.selectionModel().select(selection, flags)

    def _remember_selection(self) -> None:
        self._restore = self.selected_names()

    def _restore_selection(self) -> None:
        if self._restore:
            names, self._restore = self._restore, []
            self.select_names(names)

    def _selection_changed(self, *_: object) -> None:
        self.compare_button.setEnabled(len(self.selected_names()) >= 2)
        self._update_actions()

    def compare_selected(self) -> None:
        names = self.selected_names()
        if len(names) >= 2:
            self.compareRequested.emit(names)

    def _activated(self, index: QModelIndex) -> None:
        run = index.siblingAtColumn(0).data(RUN_ROLE)
        if run is not None:
            self.openRun.emit(run.name)

    # ---------------------------------------------------------------- context menu
    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        run: E.Run | None = index.siblingAtColumn(0).data(RUN_ROLE) if index.isValid() else None
        if run is None:
            return
        names = self.selected_names()
        if run.name not in names:
            self.select_names([run.name])
            names = [run.name]
        runs = [r for r in (self.model.get(n) for n in names) if r is not None]
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.openRun.emit(run.name))
        if self.model.has_children(run.name) and self.model.row_of(run.name) is not None:
            kind = {"sweep": "trials", "pipeline": "steps"}.get(run.properties.get("run_type", ""), "child runs")
            menu.addAction(f"Hide {kind}" if self.model.expanded(run.name) else f"Show {kind}",
                           lambda: self.parent_rows.toggle(run.name))
        compare = menu.addAction(f"Compare {len(names)} runs", self.compare_selected)
        compare.setEnabled(len(names) >= 2)
        menu.addSeparator()
        cancelable = [r.name for r in runs if not r.is_terminal and not r.cancel_requested]
        cancel = menu.addAction("Cancel" if len(names) == 1 else f"Cancel {len(cancelable)} runs",
                                lambda: [self.cancel_run(n) for n in cancelable])
        cancel.setEnabled(bool(cancelable))
        menu.addAction("Re-run", lambda: self.rerun(run.name))
        menu.addAction("Clone && edit…", lambda: self.cloneRequested.emit(run.name))
        menu.addSeparator()
        row = self.model.row_of(run.name)
        if row is not None:
            menu.addAction("Rename", lambda: self.table.edit(self.model.index(row, COL_NAME)))
            menu.addAction("Edit tags", lambda: self.table.edit(self.model.index(row, COL_TAGS)))
        menu.addAction("Edit name, description and tags…", lambda: self.edit_run(run.name))
        menu.addSeparator()
        menu.addAction("Open run folder", lambda: open_folder(self, run.run_dir))
        menu.addAction("Download outputs…", lambda: self._choose_download(run))
        menu.addAction("Register model…", lambda: self._choose_model(run))
        menu.addAction("Open in TensorBoard" if len(names) == 1 else f"Open {len(names)} runs in TensorBoard",
                       lambda: self.tensorboards.open(self, names))
        menu.addSeparator()
        archived = [n for n in names if self.model.is_archived(n)]
        if archived:
            menu.addAction("Unarchive", lambda: self.set_archived(archived, False))
        else:
            menu.addAction("Archive" if len(names) == 1 else f"Archive {len(names)} runs",
                           lambda: self.set_archived(names, True))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _choose_download(self, run: E.Run) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Download the outputs of {run.name} into")
        if folder:
            self.download_outputs(run.name, Path(folder))

    def _choose_model(self, run: E.Run) -> None:
        dialog = RegisterModelDialog(run, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.register_model(run.name, dialog.model_name(), dialog.path(), dialog.description())

    # ---------------------------------------------------------------- actions (engine, in the background)
    def cancel_run(self, name: str) -> BackgroundOp:
        return (
            BackgroundOp(self, lambda: self.engine.cancel(name), serial=True)
            .success(lambda _run: self.bridge.poke())
            .with_progress(f"Canceling {name}…")
            .run()
        )

    def rerun(self, name: str) -> BackgroundOp:
        """Submit run `name` again (same snapshot, command, environment, compute)."""

        def done(run: E.Run) -> None:
            self.model.upsert([run])
            self.bridge.poke()
            self._say(f"Re-running {name} as {run.name}")

        return (BackgroundOp(self, lambda: self.engine.rerun(name), serial=True)
                .success(done).with_progress(f"Re-running {name}…").run())

    def edit_run(self, name: str) -> None:
        """The display name, description and tags of run `name`, in a dialog."""
        run = self.model.get(name)
        if run is None:
            return
        dialog = EditRunDialog(run, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.changes():
            self.save_edit(name, dialog.changes())

    def save_edit(self, name: str, changes: dict[str, Any]) -> BackgroundOp:
        def saved(run: E.Run) -> None:
            self.model.upsert([run])
            self.bridge.poke()
            self._say(f"Saved {', '.join(k.replace('_', ' ') for k in changes)} of {name}")

        return save_run(self, self.engine, name, saved, **changes)

    def set_archived(self, names: list[str], archived: bool = True) -> BackgroundOp:
        def work() -> list[E.Run]:
            return [self.engine.archive(n, archived) for n in names]

        def done(runs: list[E.Run]) -> None:
            self.model.refresh()
            self.bridge.poke()
            what = names[0] if len(names) == 1 else f"{len(names)} runs"
            self._say(f"Archived {what}" if archived else f"Unarchived {what}")

        return BackgroundOp(self, work, serial=True).success(done).run()

    def download_outputs(self, name: str, dest: Path) -> BackgroundOp:
        def done(copied: list[Path]) -> None:
            self._say(f"Downloaded the outputs of {name} to {dest / name}" if copied
                      else f"{name} has no outputs to download")

        return (BackgroundOp(self, lambda: self.engine.download(name, dest))
                .success(done).with_progress(f"Downloading the outputs of {name}…").run())

    def register_model(self, run_name: str, model_name: str, path: str, description: str = "") -> BackgroundOp:
        def done(model: E.Model) -> None:
            self.bridge.poke()
            self._say(f"Registered model {model.name} version {model.version}")

        return (BackgroundOp(self, lambda: self.engine.register_model(model_name, path, run_name=run_name,
                                                                       description=description), serial=True)
                .success(done).with_progress(f"Registering model {model_name}…").run())

    def _say(self, text: str) -> None:
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(text, 8000)


def open_folder(parent: QWidget, path: str) -> None:
    """Show a folder in the desktop's file manager."""
    if not Path(path).is_dir() or not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        show_error(parent, NotFound(f"cannot open the folder {path}",
                                    "it may have been removed, or no file manager is set up on this desktop"))
