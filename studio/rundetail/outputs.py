"""The Outputs + logs tab: the files of the run's outputs/ and logs/, a preview, and what to do
with them (open, download, register as a model).

Listing, previews, copies and registrations all run off the GUI thread. While the tab is visible
and the run active, the listing refreshes every 2 s (./logs streams live; ./outputs is collected
when the run ends).
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.errors import one_line, show_error
from studio.rundetail.filelist import TOPS, FilePreview, RunFile, list_run_files, read_preview
from studio.rundetail.tablepreview import TABLE_SUFFIXES, TablePreview, parse_table, pretty_json
from studio.style import fmt_size, fmt_time, mono_font, muted, plural
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState

log = logging.getLogger(__name__)

REFRESH_MS = 2000
PATH_ROLE = Qt.ItemDataRole.UserRole


class ImagePreview(QLabel):
    """An image scaled down to fit (never up), keeping its aspect ratio."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._pixmap = QPixmap()

    def set_image(self, image: QImage) -> None:
        self._pixmap = QPixmap.fromImage(image)
        self._rescale()

    def image_size(self) -> QSize:
        return self._pixmap.size()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap.isNull():
            self.clear()
            return
        box = self.size() - QSize(16, 16)
        pix = self._pixmap
        if pix.width() > box.width() or pix.height() > box.height():
            pix = pix.scaled(box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.setPixmap(pix)


class OutputsTab(QWidget):
    """`downloaded(list[Path])` after a download, `registered(Model)` after a registration."""

    downloaded = Signal(list)
    registered = Signal(object)

    def __init__(self, engine: Any, bridge: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.bridge = bridge
        self.name = name
        self.run: E.Run | None = None
        self._files: list[RunFile] | None = None
        self._listed_status: str | None = None
        self._busy = False
        self._preview_for: str | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.summary = muted(QLabel())
        bar.addWidget(self.summary)
        bar.addStretch(1)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected file with the desktop's application for it")
        self.open_button.clicked.connect(self._open_selected)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Copy the selected file or folder (or all outputs and logs) to a folder")
        self.download_button.clicked.connect(self._ask_download)
        self.register_button = QPushButton("Register as model…")
        self.register_button.setToolTip("Register the selected file or folder as a new model version")
        self.register_button.clicked.connect(self._ask_register)
        for b in (self.open_button, self.download_button, self.register_button):
            bar.addWidget(b)
        lay.addLayout(bar)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Name", "Size", "Modified"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemActivated.connect(lambda item, _c: self._open_path(item.data(0, PATH_ROLE)))

        self.preview = QStackedWidget()
        self.preview_hint = EmptyState("No file selected", "Select a file to preview it here.")
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setFont(mono_font())
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.image_view = ImagePreview()
        self.table_view = TablePreview()  # CSV / TSV files
        self.no_preview = EmptyState("No preview", "")
        preview_box = QWidget()
        pv = QVBoxLayout(preview_box)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.setSpacing(4)
        self.preview_title = muted(QLabel())
        self.preview_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pv.addWidget(self.preview_title)
        for w in (self.preview_hint, self.text_view, self.image_view, self.table_view, self.no_preview):
            self.preview.addWidget(w)
        pv.addWidget(self.preview, 1)

        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.tree)
        self.split.addWidget(preview_box)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setChildrenCollapsible(False)

        self.stack = QStackedWidget()
        self.empty = EmptyState("No outputs or logs yet",
                                "Files the script writes to ./logs appear here as it runs; files in "
                                "./outputs are collected when the run ends.")
        self.stack.addWidget(self.split)
        self.stack.addWidget(self.empty)
        self.stack.setCurrentWidget(self.empty)
        lay.addWidget(self.stack, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._update_buttons()

    # ---------------------------------------------------------------- public
    def files(self, top: str = "outputs") -> list[str]:
        """The listed files under `top` (outputs or logs), relative to it."""
        prefix = top + "/"
        return [f.rel[len(prefix):] for f in self._files or [] if f.rel.startswith(prefix)]

    def set_run(self, run: E.Run) -> None:
        self.run = run
        if run.status != self._listed_status and self.isVisible():
            self.refresh()
        self._update_timer()

    def select(self, rel: str) -> bool:
        """Select the file or folder `rel` (relative to the run folder); False if it is not listed."""
        item = self._items().get(rel)
        if item is not None:
            self.tree.setCurrentItem(item)
        return item is not None

    def selected_path(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, PATH_ROLE) if items else None

    def preview_text(self) -> str:
        return self.text_view.toPlainText() if self.preview.currentWidget() is self.text_view else ""

    def preview_image_size(self) -> QSize | None:
        return self.image_view.image_size() if self.preview.currentWidget() is self.image_view else None

    def stop(self) -> None:
        self._timer.stop()

    def refresh(self) -> None:
        if self._busy or self.run is None:
            return
        self._busy = True
        run = self.run
        root = Path(run.run_dir)
        (BackgroundOp(self, lambda: list_run_files(root))
         .success(lambda files: self._listed(run.status, files))
         .failure(self._list_failed)
         .run())

    def download_to(self, dest: Path, rel: str | None = None) -> None:
        """Copy `rel` (default: the selection, else all of outputs/ and logs/) into dest/<run name>/."""
        rel = rel or self.selected_path()
        paths = [rel] if rel else [top for top in TOPS if any(f.rel.startswith(top + "/") for f in self._files or [])]
        if not paths:
            return
        engine, name = self.engine, self.name
        (BackgroundOp(self, lambda: engine.download_files(name, paths, dest))
         .success(self._download_done)
         .failure(lambda exc: show_error(self, exc))
         .with_progress(f"Copying {plural(len(paths), 'item')} of {name}…")
         .run())

    def register_as_model(self, model_name: str, rel: str | None = None) -> None:
        rel = rel or self.selected_path()
        if not rel:
            return
        engine, name = self.engine, self.name
        (BackgroundOp(self, lambda: engine.register_model(model_name, rel, run_name=name), serial=True)
         .success(self._register_done)
         .failure(lambda exc: show_error(self, exc))
         .with_progress(f"Registering {rel} as model {model_name}…")
         .run())

    # ---------------------------------------------------------------- listing
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._files is None or self._listed_status != (self.run and self.run.status):
            self.refresh()
        self._update_timer()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self._timer.stop()

    def _update_timer(self) -> None:
        active = self.run is not None and not self.run.is_terminal
        if active and self.isVisible():
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()

    def _list_failed(self, exc: BaseException) -> None:
        self._busy = False
        log.warning("listing the files of %s failed: %s", self.name, exc)

    def _listed(self, status: str, files: list[RunFile]) -> None:
        self._busy = False
        # Outputs are collected while Finalizing: list once more after the end is seen.
        self._listed_status = status
        if self.run is not None and self.run.status != status:
            QTimer.singleShot(0, self, self.refresh)
        if files == self._files:
            return
        self._files = files
        self._fill(files)

    def _fill(self, files: list[RunFile]) -> None:
        selected = self.selected_path()
        collapsed = {rel for rel, item in self._items().items() if item.childCount() and not item.isExpanded()}
        self.tree.blockSignals(True)
        self.tree.clear()
        folders: dict[str, QTreeWidgetItem] = {}
        folder_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        file_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        sizes: dict[str, int] = {}

        def folder(rel: str) -> QTreeWidgetItem:
            if rel not in folders:
                parent_rel = str(PurePosixPath(rel).parent)
                item = QTreeWidgetItem([PurePosixPath(rel).name])
                item.setIcon(0, folder_icon)
                item.setData(0, PATH_ROLE, rel)
                if parent_rel == ".":
                    self.tree.addTopLevelItem(item)
                else:
                    folder(parent_rel).addChild(item)
                folders[rel] = item
            return folders[rel]

        for f in files:
            parent_rel = str(PurePosixPath(f.rel).parent)
            item = QTreeWidgetItem([PurePosixPath(f.rel).name, fmt_size(f.size), fmt_time(f.mtime)])
            item.setIcon(0, file_icon)
            item.setData(0, PATH_ROLE, f.rel)
            item.setToolTip(0, f.rel)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            folder(parent_rel).addChild(item)
            for p in PurePosixPath(f.rel).parents:
                sizes[str(p)] = sizes.get(str(p), 0) + f.size
        for rel, item in folders.items():
            item.setText(1, fmt_size(sizes.get(rel, 0)))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setExpanded(rel not in collapsed)
        self.tree.blockSignals(False)
        if selected and not self.select(selected):
            self._show_preview_hint()
        outputs, logs = self.files("outputs"), self.files("logs")
        parts = []
        if outputs:
            parts.append(f"{plural(len(outputs), 'file')} in outputs/")
        if logs:
            parts.append(f"{plural(len(logs), 'file')} in logs/")
        total = sum(f.size for f in files)
        self.summary.setText(", ".join(parts) + f"  ·  {fmt_size(total)}" if files else "")
        self.stack.setCurrentWidget(self.split if files else self.empty)
        if not files and self.run is not None and self.run.is_terminal:
            self.empty.title.setText("No outputs or logs")
            self.empty.text.setText("The script wrote nothing to ./outputs or ./logs.")
        self._update_buttons()

    def _items(self) -> dict[str, QTreeWidgetItem]:
        found: dict[str, QTreeWidgetItem] = {}
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            found[item.data(0, PATH_ROLE)] = item
            stack += [item.child(i) for i in range(item.childCount())]
        return found

    # ---------------------------------------------------------------- preview
    def _selection_changed(self) -> None:
        self._update_buttons()
        rel = self.selected_path()
        item = self.tree.currentItem()
        if rel is None or item is None or item.childCount():
            self._show_preview_hint()
            return
        if self.run is None:
            return
        self._preview_for = rel
        path = Path(self.run.run_dir) / rel

        def load() -> tuple[FilePreview, QImage | None]:
            preview = read_preview(path)
            image = QImage.fromData(preview.data) if preview.kind == "image" else None  # QImage is thread-safe
            return preview, image

        (BackgroundOp(self, load)
         .success(lambda result: self._show_preview(rel, *result))
         .failure(lambda exc: self._show_no_preview(rel, f"It could not be read: {one_line(exc)}"))
         .run())

    def _show_preview_hint(self) -> None:
        self._preview_for = None
        self.preview_title.setText("")
        self.preview.setCurrentWidget(self.preview_hint)

    def _show_preview(self, rel: str, preview: FilePreview, image: QImage | None) -> None:
        if rel != self._preview_for:
            return
        title = f"{rel}  ·  {fmt_size(preview.size)}"
        suffix = PurePosixPath(rel).suffix.lower()
        if preview.kind == "text" and suffix in TABLE_SUFFIXES:
            header, rows = parse_table(preview.text, TABLE_SUFFIXES[suffix], truncated=preview.truncated)
            more = preview.truncated or preview.text.count("\n") > len(rows) + 1
            self.preview_title.setText(f"{title}  ·  {'first ' if more else ''}{plural(len(rows), 'row')} shown")
            self.table_view.set_table(header, rows)
            self.preview.setCurrentWidget(self.table_view)
        elif preview.kind == "text":
            if suffix == ".json" and not preview.truncated and (pretty := pretty_json(preview.text)) is not None:
                preview = FilePreview(preview.kind, preview.size, pretty, preview.truncated)
            if preview.truncated:
                title += f"  ·  first {fmt_size(len(preview.text.encode()))} shown"
            self.preview_title.setText(title)
            self.text_view.setPlainText(preview.text)
            self.preview.setCurrentWidget(self.text_view)
        elif preview.kind == "image" and image is not None and not image.isNull():
            self.preview_title.setText(f"{title}  ·  {image.width()} × {image.height()} px")
            self.image_view.set_image(image)
            self.preview.setCurrentWidget(self.image_view)
        else:
            why = {"binary": "This is not a text file.", "large": "This image is too large to preview."}
            self._show_no_preview(rel, why.get(preview.kind, "This image could not be decoded."), title)

    def _show_no_preview(self, rel: str, why: str, title: str | None = None) -> None:
        if rel != self._preview_for:
            return
        self.preview_title.setText(title or rel)
        self.no_preview.text.setText(why + " Open it with the desktop's application, or download it.")
        self.preview.setCurrentWidget(self.no_preview)

    # ---------------------------------------------------------------- actions
    def _update_buttons(self) -> None:
        rel = self.selected_path()
        has_files = bool(self._files)
        self.open_button.setEnabled(rel is not None)
        self.download_button.setEnabled(has_files)
        self.register_button.setEnabled(rel is not None)
        self.download_button.setText("Download…" if rel else "Download all…")

    def _open_selected(self) -> None:
        self._open_path(self.selected_path())

    def _open_path(self, rel: str | None) -> None:
        if rel and self.run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.run.run_dir) / rel)))

    def _ask_download(self) -> None:
        dest = QFileDialog.getExistingDirectory(self, "Download to folder")
        if dest:
            self.download_to(Path(dest))

    def _ask_register(self) -> None:
        rel = self.selected_path()
        if not rel:
            return
        default = PurePosixPath(rel).stem.replace(" ", "-") or self.name
        model_name, ok = QInputDialog.getText(
            self, "Register as model", f"Register {rel} as a new version of the model named:", text=default)
        if ok and model_name.strip():
            self.register_as_model(model_name.strip(), rel)

    def _download_done(self, copied: list[Path]) -> None:
        self._status(f"Copied {plural(len(copied), 'item')} to {copied[0].parent if copied else ''}")
        self.downloaded.emit(copied)

    def _register_done(self, model: E.Model) -> None:
        self._status(f"Registered model {model.name}, version {model.version}")
        poke = getattr(self.bridge, "poke", None)
        if poke is not None:
            poke()
        self.registered.emit(model)

    def _status(self, text: str) -> None:
        window = self.window()
        bar = getattr(window, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 8000)
