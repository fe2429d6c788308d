"""Images a run logged (`run.log_image`) as a gallery of thumbnails; a click opens a larger view.

Image files are decoded and scaled on a worker (QImage, unlike QPixmap, may be used off the GUI
thread); only the finished thumbnails reach the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.errors import one_line
from studio.style import fmt_time, muted
from studio.tasks import BackgroundOp

THUMB = 168
PREVIEW_MAX = QSize(1100, 800)


@dataclass(frozen=True)
class LoggedImage:
    key: str
    number: int  # 1 for the first image logged under this key
    path: Path
    timestamp: float
    description: str

    @property
    def caption(self) -> str:
        return f"{self.key} #{self.number}"


def logged_images(run_dir: Path, key: str, objects: list[E.MetricObject]) -> list[LoggedImage]:
    return [LoggedImage(key, i + 1, run_dir / str(o.value.get("path", "")), o.timestamp, o.description or "")
            for i, o in enumerate(objects) if isinstance(o.value, dict)]


def _load_scaled(path: Path, size: QSize) -> QImage:
    image = QImage(str(path))
    if image.isNull():
        raise OSError(f"cannot read image {path}")
    if image.width() > size.width() or image.height() > size.height():
        image = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return image


def _thumbnail(path: Path) -> QImage:
    """The image scaled into a THUMB x THUMB square, centred, so every caption lines up."""
    image = _load_scaled(path, QSize(THUMB, THUMB))
    square = QImage(THUMB, THUMB, QImage.Format.Format_ARGB32_Premultiplied)
    square.fill(Qt.GlobalColor.transparent)
    p = QPainter(square)
    p.drawImage((THUMB - image.width()) // 2, (THUMB - image.height()) // 2, image)
    p.end()
    return square


class ImageGallery(QListWidget):
    """Thumbnails in rows that wrap with the width; the height follows the rows needed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: dict[tuple[str, int], LoggedImage] = {}
        self._filter = ""
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 24, THUMB + 2 * self.fontMetrics().height() + 16))
        self.setSpacing(4)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.itemActivated.connect(self._open)
        self.itemClicked.connect(self._open)

    def set_images(self, images: list[LoggedImage]) -> None:
        """Add the images not shown yet (a key's images only ever grow)."""
        for img in images:
            ident = (img.key, img.number)
            if ident in self.images:
                continue
            self.images[ident] = img
            item = QListWidgetItem(img.caption)
            item.setData(Qt.ItemDataRole.UserRole, ident)
            item.setToolTip(f"{img.caption} · {fmt_time(img.timestamp)}"
                            + (f"\n{img.description}" if img.description else ""))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            item.setSizeHint(self.gridSize() - QSize(8, 8))
            self.addItem(item)
            item.setHidden(self._filter not in img.key.lower())
            path = img.path
            (BackgroundOp(self, lambda path=path: _thumbnail(path))
             .success(lambda image, item=item: item.setIcon(QIcon(QPixmap.fromImage(image))))
             .failure(lambda exc, item=item: item.setToolTip(f"{item.toolTip()}\n{one_line(exc)}"))
             .run())
        self.sortItems()
        self._fit_height()

    def set_filter(self, text: str) -> int:
        self._filter = text.strip().lower()
        shown = 0
        for i in range(self.count()):
            item = self.item(i)
            key = item.data(Qt.ItemDataRole.UserRole)[0]
            item.setHidden(self._filter not in key.lower())
            shown += not item.isHidden()
        self._fit_height()
        return shown

    def shown_count(self) -> int:
        return sum(not self.item(i).isHidden() for i in range(self.count()))

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        # The page scrolls, not the gallery: as tall as its rows of thumbnails.
        grid = self.gridSize()
        per_row = max(1, (self.viewport().width() - 8) // (grid.width() + self.spacing()))
        rows = max(1, -(-self.shown_count() // per_row))
        self.setFixedHeight(rows * (grid.height() + 2 * self.spacing()) + 2 * self.frameWidth() + 8)

    def _open(self, item: QListWidgetItem) -> None:
        img = self.images[item.data(Qt.ItemDataRole.UserRole)]
        ImagePreview(img, self).open()


class ImagePreview(QDialog):
    def __init__(self, img: LoggedImage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(img.caption)
        lay = QVBoxLayout(self)
        self.picture = QLabel("Loading…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 240)
        lay.addWidget(self.picture, 1)
        info = f"{img.caption} · logged {fmt_time(img.timestamp)}" + (f" · {img.description}" if img.description else "")
        lay.addWidget(muted(QLabel(info)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        (BackgroundOp(self, lambda: _load_scaled(img.path, PREVIEW_MAX))
         .success(self._show)
         .failure(lambda exc: self.picture.setText(one_line(exc)))
         .run())

    def _show(self, image: QImage) -> None:
        self.picture.setPixmap(QPixmap.fromImage(image))
        self.adjustSize()
