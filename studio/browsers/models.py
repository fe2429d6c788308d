"""The Models page: every registered model version, its files, and the run that produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QPushButton, QWidget

from engine import entities as E
from studio.browsers.detail import DetailPane, split
from studio.browsers.page import TablePage
from studio.browsers.runs import open_folder
from studio.models.registry import (
    COL_CREATED,
    COL_DESCRIPTION,
    COL_FILE,
    COL_RUN,
    COL_TAGS,
    MODEL_ROLE,
    SORT_ROLE,
    ModelTableModel,
    fmt_tags,
    model_sizes,
)
from studio.style import fmt_size, fmt_time_full, plural
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState, FilterProxy, make_table


class ModelBrowser(TablePage):
    """`openRun(name)` asks for the detail of the run that produced a model."""

    row_role = MODEL_ROLE

    openRun = Signal(str)

    def __init__(self, engine: Any, bridge: Any, parent: QWidget | None = None) -> None:
        super().__init__("Models", parent)
        self.setObjectName("models")
        self.engine = engine
        self.bridge = bridge
        self.model = ModelTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter models by name, run, tag or description", self.proxy)
        self.table = make_table(
            self.proxy,
            ["a-model-name", "Version", "wonderful_river_abcd1234x", "Yesterday 00:00", "model.pt",
             "100.0 MB", "framework=torch", "Description"],
            stretch=COL_RUN,
        )
        for col in (COL_FILE, COL_TAGS, COL_DESCRIPTION):  # in the detail pane; still matched by the filter
            self.table.setColumnHidden(col, True)
        self.table.sortByColumn(COL_CREATED, Qt.SortOrder.DescendingOrder)
        self.table.activated.connect(self._activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.detail = DetailPane("Select a model to see its files and the run that produced it.")
        self.run_button = QPushButton("Open run")
        self.run_button.setToolTip("Show the run that produced this model")
        self.run_button.clicked.connect(self._open_selected_run)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Copy this model version into a folder of your choice")
        self.download_button.clicked.connect(self.choose_download)
        self.detail.actions.addWidget(self.run_button)
        self.detail.actions.addWidget(self.download_button)
        self.detail.actions.addStretch(1)
        self.detail.body.addStretch(1)
        self.empty = EmptyState(
            "No models registered",
            "Register a file a run wrote with `trainyard model create --name NAME --run RUN "
            "--path outputs/model.pt`, or with run.register_model(...) from the training script.",
        )
        self.set_body(split(self.table, self.detail), self.empty)
        bridge.modelsChanged.connect(self._on_models)

    def is_ready(self) -> bool:
        return bool(self.bridge.is_loaded)

    def _on_models(self, models: list[E.Model]) -> None:
        self.model.set_models(models)
        n = len(models)
        names = len({m.name for m in models})
        self.show_table(n > 0)
        self.count_label.setText(f"{plural(names, 'model')}, {plural(n, 'version')}")
        if not self.table.selectionModel().hasSelection() and n:
            self.table.selectRow(0)
        else:
            self._show_selected()
        BackgroundOp(self, lambda: model_sizes(self.engine, models)).success(self._sizes_loaded).run()

    def _sizes_loaded(self, sizes: dict[tuple[str, int], int | None]) -> None:
        self.model.set_sizes(sizes)
        self._show_selected()

    def select(self, name: str, version: int | None = None) -> bool:
        return self.select_where(lambda m: m.name == name and (version is None or m.version == version))

    def _show_selected(self) -> None:
        m = self.selected()
        if m is None:
            self.detail.show_hint()
            return
        versions = sorted(x.version for x in self.model.models() if x.name == m.name)
        latest = versions[-1] if versions else m.version
        size = self.model.size(m)
        self.detail.set_header(f"{m.name}:{m.version}", m.description)
        self.detail.set_fields([
            ("Versions", f"{', '.join(map(str, versions))} (latest: {latest})"),
            ("Produced by", m.run_name or "registered from a file, not a run"),
            ("Path", m.path),
            ("Size", "missing from the workspace" if size is None and self.model.size_known(m)
             else ("" if size is None else fmt_size(size))),
            ("Registered from", m.source_path or ""),
            ("Created", fmt_time_full(m.created_at)),
            ("Tags", fmt_tags(m.tags)),
        ])
        self.run_button.setEnabled(bool(m.run_name))

    def _open_selected_run(self) -> None:
        m = self.selected()
        if m is not None and m.run_name:
            self.openRun.emit(m.run_name)

    def _activated(self, index: QModelIndex) -> None:
        m: E.Model = index.siblingAtColumn(0).data(MODEL_ROLE)
        if m is not None and m.run_name:
            self.openRun.emit(m.run_name)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        m: E.Model = index.siblingAtColumn(0).data(MODEL_ROLE)
        menu = QMenu(self)
        run_action = menu.addAction("Open producing run", lambda: self.openRun.emit(m.run_name or ""))
        run_action.setEnabled(bool(m.run_name))
        menu.addAction("Download…", lambda: self.choose_download(m))
        folder = str(Path(m.path).parent)
        menu.addAction("Open model folder", lambda: open_folder(self, folder))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def choose_download(self, model: E.Model | None = None) -> None:
        m = model if isinstance(model, E.Model) else self.selected()
        if m is None:
            return
        folder = QFileDialog.getExistingDirectory(self, f"Download {m.name}:{m.version} into", str(Path.home()))
        if folder:
            self.download(m, Path(folder))

    def download(self, m: E.Model, dest: Path) -> BackgroundOp:
        """Copy the model into dest/<name>/<version>/ in the background."""

        def done(path: Path) -> None:
            bar = getattr(self.window(), "statusBar", None)
            if callable(bar):
                bar().showMessage(f"Downloaded {m.name}:{m.version} to {path}", 10000)

        return (BackgroundOp(self, lambda: self.engine.download_model(m.name, m.version, dest))
                .success(done).with_progress(f"Downloading {m.name}:{m.version}…").run())
