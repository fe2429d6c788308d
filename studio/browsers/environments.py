"""The Environments page: registered and curated environments, their specs and build state.

Build / Rebuild runs the engine's build in the background, its log streaming into the pane;
`buildsInProgressChanged(n)` tells the window how many environment builds are running (those started
here, and those the page saw a run's supervisor doing).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelection, QObject, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPushButton, QTabWidget, QWidget

from engine.environments import status as S
from engine.environments.status import spec_documents
from studio.browsers.detail import DetailPane, split, text_view
from studio.browsers.page import RefreshedPage
from studio.browsers.refresh import Refresher
from studio.errors import show_error
from studio.models.environments import (
    COL_CREATED,
    COL_DESCRIPTION,
    COL_NAME,
    KIND_LABELS,
    STATE_LABELS,
    EnvironmentRow,
    EnvironmentTableModel,
    load_environments,
)
from studio.models.rows import SORT_ROLE
from studio.style import fmt_time_full, plural
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState, FilterProxy, make_table

REFRESH_MS = 3000  # builds by runs' supervisors show up while the page is open
KIND_HELP = {
    "user": "runs with an existing Python interpreter; nothing is built",
    "venv": "a virtual environment made with uv from pip requirements",
    "conda": "a conda environment solved and installed with rattler",
    "docker": "a Docker image (a base image with packages, or a Dockerfile)",
}


class _BuildRelay(QObject):
    """Carries build log lines from the worker thread to the GUI thread (queued)."""

    line = Signal(str, str)  # spec hash, text


class EnvironmentBrowser(RefreshedPage):
    buildsInProgressChanged = Signal(int)

    def __init__(self, engine: Any, parent: QWidget | None = None) -> None:
        super().__init__("Environments", parent)
        self.setObjectName("environments")
        self.engine = engine
        self.model = EnvironmentTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter by name, kind or build state", self.proxy)
        self.prune_button = QPushButton("Prune unused builds")
        self.prune_button.setToolTip("Remove the built environments (venvs, conda envs, Docker images) that no "
                                     "active run uses; they are built again when needed")
        self.prune_button.clicked.connect(self.prune)
        self.controls.addWidget(self.prune_button)

        self.table = make_table(
            self.proxy, ["trainyard-pytorch-cpu", "Version", "venv (pip)", "registered", "Built (cached) ",
                         "Yesterday 00:00", "Description"], stretch=COL_NAME)
        for col in (COL_CREATED, COL_DESCRIPTION):  # in the detail pane; still matched by the filter
            self.table.setColumnHidden(col, True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.detail = DetailPane("Select an environment to see its spec, build state and build log.")
        self.build_button = QPushButton("Build")
        self.build_button.clicked.connect(lambda: self.build(self.selected()))
        self.detail.actions.addWidget(self.build_button)
        self.detail.actions.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.log_view = text_view("No build log yet: build the environment, or submit a run that uses it.")
        self.detail.body.addWidget(self.tabs, 1)

        self.empty = EmptyState(
            "No environments",
            "Register one with `trainyard environment create -f env.yml`; curated environments ship with "
            "Trainyard and appear here once its resources are installed.",
        )
        self.set_body(split(self.table, self.detail), self.empty)

        self._builds: dict[str, list[str]] = {}  # spec hash -> log lines of builds started here
        self._relays: dict[str, _BuildRelay] = {}
        self._seen_building: set[str] = set()
        self._shown: tuple[Any, str] | None = None  # (row key, state) whose spec/log is on screen
        self.refresher = Refresher(self, lambda: load_environments(engine), self._loaded, every_ms=REFRESH_MS)

    # ---------------------------------------------------------------- loading
    def _loaded(self, rows: list[EnvironmentRow]) -> None:
        self.model.set_rows(rows)
        self.show_table(bool(rows))
        registered = sum(1 for r in rows if not r.spec.curated)
        built = sum(1 for r in rows if r.status.state == S.BUILT)
        self.count_label.setText(f"{plural(registered, 'registered version')}, "
                                 f"{len(rows) - registered} curated, {built} built")
        self._seen_building = {r.status.spec_hash for r in rows if r.status.state == S.BUILDING}
        self._emit_builds()
        if self.table.selectionModel().hasSelection():
            self._show_selected()
        elif rows:
            self.table.selectRow(0)

    # ---------------------------------------------------------------- selection / detail
    def select(self, name: str, version: int | None = None) -> bool:
        return self.select_where(lambda row: row.spec.name == name
                                 and (version is None or row.spec.version == version))

    def _selection_changed(self, *_: QItemSelection) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        row = self.selected()
        if row is None:
            self.detail.show_hint()
            self._shown = None
            return
        spec, st = row.spec, row.status
        building_here = st.spec_hash in self._builds
        state = S.BUILDING if building_here else st.state
        self.detail.set_header(spec.reference, spec.description)
        self.detail.set_fields([
            ("Kind", f"{KIND_LABELS.get(spec.kind, spec.kind)}: {KIND_HELP.get(spec.kind, '')}"),
            ("Source", "curated (ships with Trainyard)" if spec.curated
             else f"registered {fmt_time_full(row.created_at)}"),
            ("Build", STATE_LABELS.get(state, state)),
            ("Location", st.location or ""),
            ("Built", st.built_at.replace("T", " ")[:19] if st.built_at and st.state == S.BUILT else ""),
            ("Error", (st.error or "") if st.state == S.FAILED and not building_here else ""),
            ("Cache key", st.spec_hash[:16] if spec.kind != "user" else ""),
            ("Variables", ", ".join(f"{k}={v}" for k, v in spec.environment_variables.items())),
        ])
        self.build_button.setVisible(spec.kind != "user")
        self.build_button.setEnabled(state != S.BUILDING)
        self.build_button.setText("Rebuild" if st.state == S.BUILT else "Build")
        self.build_button.setToolTip("Remove the cached build and build it again" if st.state == S.BUILT
                                     else "Build this environment now, so the next run starts at once")
        if self._shown == (row.key, state):
            return
        self._shown = (row.key, state)
        BackgroundOp(self, lambda: (spec_documents(spec), self.engine.environment_build_log(spec))) \
            .success(lambda res, key=row.key: self._show_texts(key, *res)).run()

    def _show_texts(self, key: Any, documents: list[tuple[str, str]], log_text: str) -> None:
        row = self.selected()
        if row is None or row.key != key:
            return  # the selection moved on while this loaded
        current = self.tabs.tabText(self.tabs.currentIndex()) if self.tabs.count() else ""
        while self.tabs.count():
            widget = self.tabs.widget(0)
            self.tabs.removeTab(0)
            if widget is not self.log_view:
                widget.deleteLater()
        for title, text in documents:
            view = text_view()
            view.setPlainText(text)
            self.tabs.addTab(view, title.split(" (")[0])
            self.tabs.setTabToolTip(self.tabs.count() - 1, title)
        self.tabs.addTab(self.log_view, "Build log")
        live = self._builds.get(row.status.spec_hash)
        self.log_view.setPlainText("\n".join(live) if live is not None else log_text)
        self.log_view.moveCursor(QTextCursor.MoveOperation.End)
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == current or (live is not None and self.tabs.widget(i) is self.log_view):
                self.tabs.setCurrentIndex(i)

    # ---------------------------------------------------------------- build / prune
    def builds_in_progress(self) -> int:
        return len(set(self._builds) | self._seen_building)

    def _emit_builds(self) -> None:
        self.buildsInProgressChanged.emit(self.builds_in_progress())

    def build(self, row: EnvironmentRow | None) -> BackgroundOp | None:
        if row is None or row.spec.kind == "user":
            return None
        h = row.status.spec_hash
        if h in self._builds:
            return None
        rebuild = row.status.state == S.BUILT
        spec = row.spec
        self._builds[h] = []
        relay = _BuildRelay()
        relay.line.connect(self._on_build_line)
        self._relays[h] = relay

        def on_event(event: Any) -> None:
            text = f"==> {event.message}" if event.kind == "step" else event.message
            if event.kind != "progress":
                relay.line.emit(h, text)

        self._shown = None
        self._show_selected()
        self.tabs.setCurrentWidget(self.log_view)
        self._emit_builds()
        return (
            BackgroundOp(self, lambda: self.engine.build_environment(spec, on_event, rebuild=rebuild))
            .success(lambda built: self._build_done(h, spec.reference, None))
            .failure(lambda exc: self._build_done(h, spec.reference, exc))
            .with_progress(f"Building environment {spec.reference}…")
            .run()
        )

    def _on_build_line(self, h: str, text: str) -> None:
        lines = self._builds.get(h)
        if lines is None:
            return
        lines.append(text)
        row = self.selected()
        if row is not None and row.status.spec_hash == h:
            self.log_view.appendPlainText(text)

    def _build_done(self, h: str, reference: str, exc: BaseException | None) -> None:
        self._builds.pop(h, None)
        relay = self._relays.pop(h, None)
        if relay is not None:
            relay.deleteLater()
        self._shown = None
        self._emit_builds()
        self.refresh()
        if exc is not None:
            show_error(self, exc, "Environment build failed")
        else:
            self._status(f"Environment {reference} is ready")

    def prune(self) -> BackgroundOp:
        self.prune_button.setEnabled(False)

        def done(result: tuple[list[dict[str, Any]], set[str]]) -> None:
            removed, kept = result
            self.prune_button.setEnabled(True)
            text = f"Removed {plural(len(removed), 'built environment')}" if removed else "Nothing to remove"
            self._status(text + (f"; kept {len(kept)} in use by active runs" if kept else ""))
            self._shown = None
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.prune_button.setEnabled(True)
            show_error(self, exc)

        return (BackgroundOp(self, self.engine.prune_environments, serial=True)
                .success(done).failure(failed).with_progress("Removing unused environment builds…").run())

    def _status(self, text: str) -> None:
        bar = getattr(self.window(), "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 8000)
