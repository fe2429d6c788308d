"""The main window: navigation on the left, pages on the right, workspace state below."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio import notify, theme
from studio.bridge import Bridge
from studio.browsers.components import ComponentBrowser
from studio.browsers.compute import ComputeBrowser
from studio.browsers.data import DataBrowser
from studio.browsers.environments import EnvironmentBrowser
from studio.browsers.experiments import ExperimentBrowser
from studio.browsers.models import ModelBrowser
from studio.browsers.runs import RunBrowser
from studio.browsers.welcome import example_job
from studio.dialogs.clone import CloneSource, clone_source
from studio.dialogs.submit import SubmitDialog
from studio.discover import fill_help_menu
from studio.errors import one_line
from studio.heap import freeze_startup_heap, thaw_heap
from studio.icons import NAV_ICONS, icon
from studio.models.runs import RunTableModel
from studio.navigation import NAV_LABELS, PAGES
from studio.style import heading, muted
from studio.tasks import BackgroundOp

SETTINGS = ("Trainyard", "Trainyard")

if TYPE_CHECKING:  # these pull in pyqtgraph: imported on first use, not at start-up
    from studio.compare.view import CompareView
    from studio.rundetail import RunDetail
# palette() roles keep the navigation right in light and dark themes.
NAV_STYLE = """
QListWidget#navigation { background: transparent; border: none; outline: 0; }
QListWidget#navigation::item {
    padding: 7px 10px; margin: 1px 0; border-radius: 6px; color: palette(window-text);
}
QListWidget#navigation::item:hover:!selected { background: palette(midlight); }
QListWidget#navigation::item:selected { background: palette(highlight); color: palette(highlighted-text); }
"""


def _preload_plot_modules() -> None:
    """Import the run detail and compare view (pyqtgraph: ~0.4 s) on a worker thread once the window
    is up, so that neither start-up nor the first opened run waits for it on the GUI thread; then
    freeze the start-up heap, so that later full garbage collections stay short (studio/heap.py)."""
    import threading

    def load() -> None:
        import studio.compare.view  # noqa: F401
        import studio.rundetail  # noqa: F401

        freeze_startup_heap()

    threading.Thread(target=load, name="trainyard-preload", daemon=True).start()


def settings() -> QSettings:
    return QSettings(*SETTINGS)


def project_from_drop(paths: list[Path]) -> tuple[Path, str | None] | None:
    """(folder, script) for the first dropped folder, or a dropped .py file's (or job YAML's,
    a pipeline's included) folder and name."""
    for p in paths:
        if p.is_dir():
            return p, None
        if p.is_file() and p.suffix in (".py", ".yml", ".yaml"):
            return p.parent, p.name
    return None


class MainWindow(QMainWindow):
    def __init__(self, engine: Any, *, restore: bool = True, poll_ms: int | None = None) -> None:
        super().__init__()
        self.engine = engine
        self._persist = restore  # a screenshot or a test must not overwrite the user's layout
        self.setWindowTitle(f"Trainyard — {engine.location.name}")
        self.setAcceptDrops(True)
        self.bridge = Bridge(engine, self, **({"interval_ms": poll_ms} if poll_ms else {}))
        self.runs_model = RunTableModel(self)
        self.bridge.runsChanged.connect(self.runs_model.upsert)
        self.detail: RunDetail | None = None
        self.compare: CompareView | None = None
        self.notifier = notify.Notifier(self)
        self.bridge.runsChanged.connect(self.notifier.observe)
        self.notifier.ended.connect(self._run_ended)
        self.notifier.open_requested.connect(self.bring_run_forward)
        self.submit_dialog: SubmitDialog | None = None
        self.palette_dialog: Any = None

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self._build_sidebar())
        line = QFrame()
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Plain)
        line.setForegroundRole(QPalette.ColorRole.Mid)
        row.addWidget(line)
        self.stack = QStackedWidget()
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.experiments_page = ExperimentBrowser(engine, self.bridge, self.runs_model)
        self.runs_page = RunBrowser(engine, self.bridge, self.runs_model)
        self.environments_page = EnvironmentBrowser(engine)
        self.compute_page = ComputeBrowser(engine, self.bridge, self.runs_model)
        self.models_page = ModelBrowser(engine, self.bridge)
        self.data_page = DataBrowser(engine)
        self.components_page = ComponentBrowser(engine)
        self.pages = {"experiments": self.experiments_page, "runs": self.runs_page,
                      "environments": self.environments_page, "compute": self.compute_page,
                      "models": self.models_page, "data": self.data_page, "components": self.components_page}
        for key in PAGES:
            self.stack.addWidget(self.pages[key])
        self.runs_page.openRun.connect(self.show_run)
        self.runs_page.compareRequested.connect(self.show_compare)
        self.runs_page.cloneRequested.connect(self.clone_run)
        self.runs_page.exampleRequested.connect(self.run_example)
        self.runs_page.empty.openProject.connect(self.choose_project)
        self.models_page.openRun.connect(self.show_run)
        self.data_page.openRun.connect(self.show_run)
        self.experiments_page.openRun.connect(self.show_run)
        self.compute_page.openRun.connect(self.show_run)
        self.experiments_page.showRuns.connect(self.show_experiment_runs)
        self.nav.currentRowChanged.connect(self._nav_changed)
        # Clicking the already-current "Runs" while a run's detail is shown goes back to the list.
        self.nav.itemClicked.connect(lambda item: self._nav_changed(self.nav.row(item)))

        self._build_menus()
        self.active_label = QLabel()
        self.active_label.setContentsMargins(8, 0, 0, 0)
        self.workspace_label = muted(QLabel(str(engine.location.folder)))
        self.workspace_label.setToolTip("The workspace: where runs, snapshots and models are kept")
        self.builds_label = QLabel()
        self.builds_label.setContentsMargins(12, 0, 0, 0)
        self.statusBar().addWidget(self.active_label)
        self.statusBar().addWidget(self.builds_label)
        self.environments_page.buildsInProgressChanged.connect(self._update_builds)
        self.statusBar().addPermanentWidget(self.workspace_label)
        self.runs_model.activeCountChanged.connect(self._update_active)
        self.bridge.runsChanged.connect(lambda _runs: self._update_builds())
        self.bridge.pollFailed.connect(
            lambda exc: self.statusBar().showMessage(f"Cannot read the workspace: {one_line(exc)}", 10000))
        self._update_active(0)
        self._update_builds(0)

        self.resize(1280, 800)
        if restore:
            self._restore_settings()
        else:
            self.show_page("runs")
        self.bridge.start()
        _preload_plot_modules()

    def _build_sidebar(self) -> QWidget:
        side = QWidget()
        side.setObjectName("sidebar")
        side.setFixedWidth(196)
        side.setAutoFillBackground(True)
        pal = side.palette()
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.Window).darker(104))
        side.setPalette(pal)
        col = QVBoxLayout(side)
        col.setContentsMargins(12, 16, 12, 14)
        col.setSpacing(2)
        brand = heading("Trainyard", 1.35)
        col.addWidget(brand)
        ws = muted(QLabel(self.engine.location.name))
        ws.setToolTip(str(self.engine.location.folder))
        col.addWidget(ws)
        col.addSpacing(18)
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFrameShape(QFrame.Shape.NoFrame)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setStyleSheet(NAV_STYLE)
        font = self.nav.font()
        font.setPointSizeF(font.pointSizeF() * 1.08)
        self.nav.setFont(font)
        self.nav.setIconSize(QSize(18, 18))
        for key in PAGES:
            item = QListWidgetItem(icon(NAV_ICONS[key]), NAV_LABELS[key])
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.nav.addItem(item)
        col.addWidget(self.nav, 1)
        self.new_run_button = QPushButton(icon("add"), "New run…")
        self.new_run_button.setToolTip("Pick a project folder and submit one of its scripts (Ctrl+O)")
        self.new_run_button.clicked.connect(self.choose_project)
        col.addWidget(self.new_run_button)
        return side

    # ---------------------------------------------------------------- menus
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction(icon("open"), "&Open Project…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.setStatusTip("Pick a project folder and submit a run of one of its scripts")
        self.open_action.triggered.connect(self.choose_project)
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for i, key in enumerate(PAGES):
            action = QAction(NAV_LABELS[key], self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, k=key: self.show_page(k))
            view_menu.addAction(action)
        view_menu.addSeparator()
        self._build_appearance_menu(view_menu.addMenu("&Appearance"))
        self.notify_action = QAction("Desktop &notifications when a run ends", self)
        self.notify_action.setCheckable(True)
        self.notify_action.setChecked(notify.notifications_enabled())
        self.notify_action.toggled.connect(notify.set_notifications_enabled)
        view_menu.addAction(self.notify_action)

        help_menu = self.menuBar().addMenu("&Help")
        fill_help_menu(self, help_menu)
        about = QAction("&About Trainyard", self)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _build_appearance_menu(self, menu: Any) -> None:
        group = QActionGroup(self)
        current = theme.requested()
        for choice, label in (("system", "Follow the &system"), ("light", "&Light"), ("dark", "&Dark")):
            action = QAction(label, self, checkable=True)
            action.setChecked(choice == current)
            action.triggered.connect(lambda _=False, c=choice: self._set_theme(c))
            group.addAction(action)
            menu.addAction(action)

    @staticmethod
    def _set_theme(choice: str) -> None:
        t = theme.current()
        if t is not None:
            t.set_choice(choice)

    def _run_ended(self, run: E.Run) -> None:
        self.statusBar().showMessage(f"{run.display_name or run.name}: {run.status.lower()}", 10000)

    def bring_run_forward(self, name: str) -> None:
        """A click on a run's notification: show its page and raise the window (even if minimised)."""
        self.show_run(name)
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def _about(self) -> None:
        QMessageBox.about(
            self, "About Trainyard",
            "<b>Trainyard</b><p>Train machine-learning models on your own machines.</p>"
            f"<p>Workspace: {self.engine.location.folder}</p>")

    # ---------------------------------------------------------------- navigation
    def current_page(self) -> str:
        w = self.stack.currentWidget()
        if w is self.detail:
            return "run"
        if w is self.compare:
            return "compare"
        return next((k for k, p in self.pages.items() if p is w), "runs")

    def show_page(self, key: str) -> None:
        self.nav.setCurrentRow(PAGES.index(key))
        self.stack.setCurrentWidget(self.pages[key])

    def _nav_changed(self, row: int) -> None:
        if 0 <= row < len(PAGES):
            self.stack.setCurrentWidget(self.pages[PAGES[row]])

    def show_experiment_runs(self, experiment: str) -> None:
        self.show_page("runs")
        self.runs_page.show_experiment(experiment)

    def show_asset(self, kind: str, name: str, version: int) -> None:
        """The Data page (or the Models page) with one asset version selected."""
        page = self.data_page if kind == "data" else self.models_page
        self.show_page("data" if kind == "data" else "models")
        refresh = getattr(page, "refresh", None)  # the Models page follows the store by itself
        if callable(refresh):
            refresh()
        if not page.select(name, version):
            page.filter_edit.setText(name)

    def show_run(self, name: str) -> RunDetail:
        if not name:
            raise ValueError("no run name")
        from studio.rundetail import RunDetail

        if self.detail is not None:
            self.detail.stop()
            self.stack.removeWidget(self.detail)
            self.detail.deleteLater()
        self.detail = RunDetail(self.engine, self.bridge, name)
        self.detail.back.connect(lambda: self.show_page("runs"))
        self.detail.openRun.connect(self.show_run)
        self.detail.openAsset.connect(self.show_asset)
        self.stack.addWidget(self.detail)
        self.stack.setCurrentWidget(self.detail)
        self.nav.blockSignals(True)
        self.nav.setCurrentRow(PAGES.index("runs"))
        self.nav.blockSignals(False)
        return self.detail

    def show_compare(self, names: list[str]) -> CompareView:
        from studio.compare.view import CompareView

        if self.compare is not None:
            self.compare.stop()
            self.stack.removeWidget(self.compare)
            self.compare.deleteLater()
        self.compare = CompareView(self.engine, self.bridge, list(names))
        self.stack.addWidget(self.compare)
        self.stack.setCurrentWidget(self.compare)
        self.nav.blockSignals(True)
        self.nav.setCurrentRow(PAGES.index("runs"))
        self.nav.blockSignals(False)
        return self.compare

    def page_ready(self) -> bool:
        w = self.stack.currentWidget()
        return bool(getattr(w, "is_ready", lambda: True)())

    def _update_active(self, n: int) -> None:
        self.active_label.setText(f"{n} active run" + ("" if n == 1 else "s"))

    def _update_builds(self, n: int | None = None) -> None:
        """Builds started here (Environments page) plus runs preparing their environment."""
        if n is not None:
            self._studio_builds = n
        preparing = sum(1 for r in self.runs_model.runs() if r.status == "Preparing")
        total = getattr(self, "_studio_builds", 0) + preparing
        # Only worth space in the status bar while something builds.
        self.builds_label.setText(f"· {total} environment build" + ("" if total == 1 else "s") + " in progress")
        self.builds_label.setToolTip("Environments being built: from the Environments page, or by runs "
                                     "in the Preparing state")
        self.builds_label.setVisible(total > 0)

    # ---------------------------------------------------------------- projects
    def choose_project(self) -> None:
        start = settings().value("lastProjectDir", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Open a project folder", str(start))
        if folder:
            self.open_project(Path(folder))

    def open_project(self, folder: Path, script: str | None = None) -> SubmitDialog:
        settings().setValue("lastProjectDir", str(folder))
        if self.submit_dialog is not None:
            self.submit_dialog.close()
        dialog = SubmitDialog(self.engine, folder, script, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.submitted.connect(self._submitted)
        dialog.destroyed.connect(lambda: setattr(self, "submit_dialog", None))
        self.submit_dialog = dialog
        dialog.open()
        return dialog

    def clone_run(self, name: str) -> BackgroundOp:
        """Clone & edit: the Submit dialog, filled from run `name` (read in the background)."""

        def opened(source: CloneSource) -> None:
            self.open_project(source.folder, source.script).fill_from(source)

        return (BackgroundOp(self, lambda: clone_source(self.engine, name))
                .success(opened).with_progress(f"Reading {name}…").run())

    def run_example(self) -> BackgroundOp:
        """The welcome page's one click: submit the bundled example and open its live run."""
        engine = self.engine
        return (BackgroundOp(self, lambda: engine.submit(example_job()), serial=True)
                .success(self._submitted).with_progress("Submitting the example…").run())

    def _submitted(self, run: E.Run) -> None:
        self.runs_model.upsert([run])
        self.bridge.poke()
        self.show_run(run.name)
        warnings = self.submit_dialog.warnings if self.submit_dialog else []
        msg = f"Submitted {run.name} to {run.compute}"
        self.statusBar().showMessage(msg + (f" — {warnings[0]}" if warnings else ""), 8000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        found = self._dropped_project(event)
        if found is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_project(*found)

    @staticmethod
    def _dropped_project(event: Any) -> tuple[Path, str | None] | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        return project_from_drop([Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()])

    # ---------------------------------------------------------------- settings / close
    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("mainWindow/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("mainWindow/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        page = s.value("mainWindow/page", "runs")
        self.show_page(page if page in PAGES else "runs")

    def save_settings(self) -> None:
        s = settings()
        s.setValue("mainWindow/geometry", self.saveGeometry())
        s.setValue("mainWindow/state", self.saveState())
        page = self.current_page()
        s.setValue("mainWindow/page", "runs" if page in ("run", "compare") else page)

    def shutdown(self) -> None:
        """Stop polling (idempotent). Runs go on: they belong to their supervisors."""
        if self.detail is not None:
            self.detail.stop()
        if self.compare is not None:
            self.compare.stop()
        self.runs_page.tensorboards.stop_all()  # TensorBoard ends with the studio
        self.bridge.stop()
        thaw_heap()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._persist:
            self.save_settings()
        self.shutdown()
        super().closeEvent(event)
