"""The studio's icons: line drawings in resources/icons/, painted in the palette's text colour.

A QIcon made straight from an SVG keeps the SVG's colours, so a black icon would vanish on a
dark palette. These icons are drawn with `currentColor`; `SvgIconEngine` substitutes a colour at
paint time, taken from the application palette for the icon's mode (normal, disabled, selected),
so every icon follows a light/dark switch without being rebuilt. Renders are cached per
(name, colour, size).
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
APP_ICON = "trainyard"
# The page each navigation entry shows -> its icon.
NAV_ICONS = {
    "experiments": "experiments",
    "runs": "runs",
    "environments": "environments",
    "compute": "compute",
    "models": "models",
    "data": "data",
    "components": "components",
}
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def icon_names() -> list[str]:
    """Every line icon shipped (the app icon excluded)."""
    return sorted(p.stem for p in ICON_DIR.glob("*.svg") if p.stem != APP_ICON)


@cache
def _svg_source(name: str) -> str:
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        raise KeyError(f"no icon named {name!r} in {ICON_DIR} (known: {', '.join(icon_names())})")
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=512)
def _renderer(name: str, rgb: str) -> QSvgRenderer:
    return QSvgRenderer(QByteArray(_svg_source(name).replace("currentColor", rgb).encode()))


@lru_cache(maxsize=1024)
def _render(name: str, color: str, width: int, height: int) -> QImage:
    """`color` is #AARRGGBB: SVG knows only #RRGGBB, so the alpha becomes the painter's opacity."""
    qcolor = QColor(color)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setOpacity(qcolor.alphaF())
    side = min(width, height)  # square icons, centred in the requested rectangle
    _renderer(name, qcolor.name(QColor.NameFormat.HexRgb)).render(painter, QRectF((width - side) / 2, (height - side) / 2, side, side))
    painter.end()
    return image


def mode_color(mode: QIcon.Mode, palette: QPalette | None = None) -> QColor:
    """The colour a palette-following icon is painted in for `mode`."""
    pal = palette if palette is not None else QGuiApplication.palette()
    if mode == QIcon.Mode.Disabled:
        return pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    if mode == QIcon.Mode.Selected:
        return pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
    return pal.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)


class SvgIconEngine(QIconEngine):
    """Paints one line icon in a fixed colour, or (color=None) in the palette's colour for the mode."""

    def __init__(self, name: str, color: QColor | None = None) -> None:
        super().__init__()
        _svg_source(name)  # fail now, with the list of known names, rather than at paint time
        self._name = name
        self._color = QColor(color) if color is not None else None

    def _color_for(self, mode: QIcon.Mode) -> str:
        if self._color is None:
            return mode_color(mode).name(QColor.NameFormat.HexArgb)
        if mode == QIcon.Mode.Disabled:
            faded = QColor(self._color)
            faded.setAlphaF(faded.alphaF() * 0.4)
            return faded.name(QColor.NameFormat.HexArgb)
        return self._color.name(QColor.NameFormat.HexArgb)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        image = _render(self._name, self._color_for(mode),
                        max(1, round(rect.width() * ratio)), max(1, round(rect.height() * ratio)))
        painter.drawImage(QRectF(rect), image)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        width, height = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
        pixmap = QPixmap.fromImage(_render(self._name, self._color_for(mode), width, height))
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        return size

    def iconName(self) -> str:
        return self._name

    def key(self) -> str:
        return "trainyard-svg"

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self._name, self._color)

    def isNull(self) -> bool:
        return False


_icons: dict[tuple[str, str], QIcon] = {}


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The line icon `name` (see resources/icons/): in the palette's text colour, or in `color`.

    Without a colour the icon follows the palette, including a later light/dark switch, and is
    drawn in the highlighted-text colour when its item is selected."""
    key = (name, "" if color is None else QColor(color).name(QColor.NameFormat.HexArgb))
    cached = _icons.get(key)
    if cached is None:
        cached = _icons[key] = QIcon(SvgIconEngine(name, None if color is None else QColor(color)))
    return cached


def render_app_icon(size: int) -> QPixmap:
    renderer = QSvgRenderer(str(ICON_DIR / f"{APP_ICON}.svg"))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(QPoint(0, 0), QSize(size, size)))
    painter.end()
    return pixmap


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The application's own (coloured) icon, pre-rendered at the sizes window managers ask for."""
    result = QIcon()
    for size in APP_ICON_SIZES:
        result.addPixmap(render_app_icon(size))
    return result


def export_app_icon(folder: Path) -> tuple[Path, Path]:
    """Write trainyard.svg and a 256x256 trainyard.png into `folder` (packaging/ keeps both)."""
    folder.mkdir(parents=True, exist_ok=True)
    svg = folder / f"{APP_ICON}.svg"
    svg.write_text((ICON_DIR / f"{APP_ICON}.svg").read_text(encoding="utf-8"), encoding="utf-8")
    png = folder / f"{APP_ICON}.png"
    if not render_app_icon(256).save(str(png)):
        raise OSError(f"cannot write {png}")
    return svg, png
