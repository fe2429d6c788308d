"""The Data page: registered data assets (files, folders, URLs), whether each still exists, the
first rows of its table (CSV, or Parquet with pyarrow), and its lineage both ways: the run that
produced it and the runs that consumed it (`openRun(name)` asks for one's detail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from engine import entities as E
from studio.browsers.detail import DetailPane, split
from studio.browsers.page import RefreshedPage
from studio.browsers.refresh import Refresher
from studio.browsers.runs import open_folder
from studio.dialogs.register_data import RegisterDataDialog
from studio.models.data import (
    COL_CREATED,
    COL_DESCRIPTION,
    COL_KIND,
    COL_NAME,
    COL_PATH,
    KIND_LABELS,
    DataRow,
    DataTableModel,
    load_data_assets,
)
from studio.models.rows import SORT_ROLE
from studio.style import fmt_size, fmt_time_full, plural
from studio.widgets import EmptyState, FilterProxy, make_table

REFRESH_MS = 15_000  # files move or vanish behind the studio's back


class DataBrowser(RefreshedPage):
    openRun = Signal(str)

    def __init__(self, engine: Any, parent: QWidget | None = None) -> None:
        super().__init__("Data", parent)
        self.setObjectName("data")
        self.engine = engine
        self.dialog: RegisterDataDialog | None = None
        self._pending_select: tuple[str, int] | None = None  # a just-registered asset to show
        self.model = DataTableModel(self)
        self.proxy = FilterProxy(SORT_ROLE, self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = self.add_filter("Filter data assets", self.proxy)
        self.register_button = QPushButton("Register data…")
        self.register_button.setToolTip("Give a file, folder or URL a name that jobs can use as an input")
        self.register_button.clicked.connect(self.open_register_dialog)
        self.controls.addWidget(self.register_button)
        self.table = make_table(self.proxy, ["a-data-asset", "Version", "folder", "/home/user/data/train.csv",
                                             "missing ", "100.0 MB", "Yesterday 00:00", "Description"],
                                stretch=COL_PATH)
        for col in (COL_KIND, COL_CREATED, COL_DESCRIPTION):  # in the detail pane; still matched by the filter
            self.table.setColumnHidden(col, True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.detail = DetailPane("Select a data asset to see where it is and how to use it in a job.")
        self.open_button = QPushButton("Open folder")
        self.open_button.clicked.connect(self._open_folder)
        self.detail.actions.addWidget(self.open_button)
        self.producer_button = QPushButton("Open producing run")
        self.producer_button.clicked.connect(self._open_producer)
        self.detail.actions.addWidget(self.producer_button)
        self.consumers = QComboBox()
        self.consumers.setToolTip("The runs that used this version as an input: pick one to open it")
        self.consumers.activated.connect(self._open_consumer)
        self.detail.actions.addWidget(self.consumers)
        self.detail.actions.addStretch(1)
        self.preview_label = QLabel("Preview")
        self.preview = QTableWidget()
        self.preview.setObjectName("data-preview")
        self.preview.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.preview.setMinimumHeight(160)
        self.detail.body.addWidget(self.preview_label)
        self.detail.body.addWidget(self.preview, 1)
        self.empty = EmptyState(
            "No data assets",
            "A data asset names a file, folder or URL so that jobs can use it as an input "
            "(`path: azureml:NAME@latest`). Click Register data… to add one.",
        )
        self.set_body(split(self.table, self.detail), self.empty)
        self.refresher = Refresher(self, lambda: load_data_assets(engine), self._loaded, every_ms=REFRESH_MS)

    def _loaded(self, rows: list[DataRow]) -> None:
        self.model.set_rows(rows)
        self.show_table(bool(rows))
        names = len({r.asset.name for r in rows})
        missing = sum(1 for r in rows if r.exists is False)
        self.count_label.setText(f"{plural(names, 'asset')}, {plural(len(rows), 'version')}"
                                 + (f", {missing} missing on disk" if missing else ""))
        if self._pending_select is not None:
            self.select(*self._pending_select)
            self._pending_select = None
        elif self.table.selectionModel().hasSelection():
            self._show_selected()
        elif rows:
            self.table.selectRow(0)

    def select(self, name: str, version: int | None = None) -> bool:
        return self.select_where(lambda row: row.asset.name == name
                                 and (version is None or row.asset.version == version))

    def _show_selected(self) -> None:
        row = self.selected()
        if row is None:
            self.detail.show_hint()
            return
        a = row.asset
        versions = [r.asset.version for r in self.model.rows() if r.asset.name == a.name]
        on_disk = "not checked (a URL)" if row.exists is None else (
            "yes" if row.exists else "missing: jobs that use this asset will fail")
        self.detail.set_header(f"{a.name}:{a.version}", a.description)
        self.detail.set_fields([
            ("Kind", "URL" if row.is_url else KIND_LABELS.get(a.kind, a.kind)),
            ("Path", a.path),
            ("On disk", on_disk),
            ("Size", "" if row.size is None else fmt_size(row.size)),
            ("Versions", ", ".join(map(str, sorted(versions)))),
            ("Created", fmt_time_full(a.created_at)),
            ("Copy", "" if row.is_url else ("a snapshot in the workspace" if a.copied else
                                            "a reference to your folder, checked by its checksum (--no-copy)")),
            ("Content hash", a.content_hash or ""),
            ("Produced by", row.produced_by or "registered by hand, not by a run"),
            ("Consumed by", ", ".join(row.consumed_by) or "no run yet"),
            ("Tags", ", ".join(f"{k}={v}" for k, v in a.tags.items())),
            ("In a job", f"path: azureml:{a.name}:{a.version}"),
        ])
        self.open_button.setEnabled(bool(row.exists))
        self.producer_button.setEnabled(bool(row.produced_by))
        self.consumers.clear()
        self.consumers.addItem(f"Consumers ({len(row.consumed_by)})")
        for name in row.consumed_by:
            self.consumers.addItem(name)
        self.consumers.setEnabled(bool(row.consumed_by))
        self._show_preview(row)

    def _show_preview(self, row: DataRow) -> None:
        self.preview.clear()
        if row.is_url:
            self.preview_label.setText("Preview: not available for a URL")
            self.preview.setRowCount(0)
            self.preview.setColumnCount(0)
            return
        shown = self.engine.preview_data(row.asset.path)
        where = Path(shown.file).name if shown.file else ""
        self.preview_label.setText("Preview" + (f" of {where}" if where else "") + (f" ({shown.note})" if shown.note else ""))
        self.preview.setColumnCount(len(shown.columns))
        self.preview.setRowCount(len(shown.rows))
        self.preview.setHorizontalHeaderLabels(shown.columns)
        for r, values in enumerate(shown.rows):
            for c, value in enumerate(values[: len(shown.columns)]):
                self.preview.setItem(r, c, QTableWidgetItem(value))
        self.preview.resizeColumnsToContents()

    def _open_producer(self) -> None:
        row = self.selected()
        if row is not None and row.produced_by:
            self.openRun.emit(row.produced_by)

    def _open_consumer(self, index: int) -> None:
        if index > 0:
            self.openRun.emit(self.consumers.itemText(index))

    def _open_folder(self) -> None:
        row = self.selected()
        if row is not None:
            p = Path(row.asset.path)
            open_folder(self, str(p if p.is_dir() else p.parent))

    def open_register_dialog(self) -> RegisterDataDialog:
        if self.dialog is not None:
            self.dialog.close()
        dialog = RegisterDataDialog(self.engine, self)
        dialog.registered.connect(self._registered)
        dialog.finished.connect(lambda _code: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _registered(self, asset: E.DataAsset) -> None:
        self._pending_select = (asset.name, asset.version)
        self.refresher.request()
        bar = getattr(self.window(), "statusBar", None)
        if callable(bar):
            bar().showMessage(f"Registered data asset {asset.name}:{asset.version}", 8000)
