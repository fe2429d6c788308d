"""Light and dark: follow the system, or what the user (or a screenshot) asked for.

`apply(app)` sets the Fusion style and a light or dark palette, and re-applies it whenever the
system's colour scheme changes (Qt 6.5+ `QStyleHints.colorSchemeChanged`). Where the platform
theme cannot tell (many Linux desktops report `Unknown`), the palette the platform gave at start
decides by its window lightness. The choice comes from, in order: $TRAINYARD_THEME
(light|dark|system), the `appearance/theme` setting, then "system".

Pages draw with palette roles, so they follow a switch by themselves; icons from `studio.icons`
too. Anything painted with its own colours (plots) connects to `Theme.changed`.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

ENV_VAR = "TRAINYARD_THEME"
SETTING = "appearance/theme"
CHOICES = ("system", "light", "dark")

# Dark palette: neutral greys with the status blue as the selection colour.
DARK = {
    QPalette.ColorRole.Window: "#2b2d30",
    QPalette.ColorRole.WindowText: "#e3e5e8",
    QPalette.ColorRole.Base: "#1e1f22",
    QPalette.ColorRole.AlternateBase: "#26282b",
    QPalette.ColorRole.ToolTipBase: "#3a3d41",
    QPalette.ColorRole.ToolTipText: "#e3e5e8",
    QPalette.ColorRole.PlaceholderText: "#8d9096",
    QPalette.ColorRole.Text: "#e3e5e8",
    QPalette.ColorRole.Button: "#34373b",
    QPalette.ColorRole.ButtonText: "#e3e5e8",
    QPalette.ColorRole.BrightText: "#ff7b7f",
    QPalette.ColorRole.Light: "#4a4d52",
    QPalette.ColorRole.Midlight: "#3b3e43",
    QPalette.ColorRole.Mid: "#45484d",
    QPalette.ColorRole.Dark: "#18191b",
    QPalette.ColorRole.Shadow: "#0c0c0d",
    QPalette.ColorRole.Highlight: "#2f6fd6",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6ea8fe",
    QPalette.ColorRole.LinkVisited: "#b69cf7",
}
DARK_DISABLED = {
    QPalette.ColorRole.WindowText: "#75787e",
    QPalette.ColorRole.Text: "#75787e",
    QPalette.ColorRole.ButtonText: "#75787e",
    QPalette.ColorRole.Highlight: "#3b3e43",
    QPalette.ColorRole.HighlightedText: "#9a9da3",
    QPalette.ColorRole.Button: "#2f3235",
    QPalette.ColorRole.Base: "#232427",
}


def dark_palette() -> QPalette:
    pal = QPalette()
    for role, color in DARK.items():
        pal.setColor(QPalette.ColorGroup.All, role, QColor(color))
    for role, color in DARK_DISABLED.items():
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
    if hasattr(QPalette.ColorRole, "Accent"):  # Qt 6.6+
        pal.setColor(QPalette.ColorGroup.All, QPalette.ColorRole.Accent, QColor(DARK[QPalette.ColorRole.Highlight]))
    return pal


def is_dark_palette(pal: QPalette) -> bool:
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def requested() -> str:
    """'light', 'dark' or 'system': $TRAINYARD_THEME, else the setting, else 'system'."""
    for value in (os.environ.get(ENV_VAR), QSettings("Trainyard", "Trainyard").value(SETTING)):
        if isinstance(value, str) and value.strip().lower() in CHOICES:
            return value.strip().lower()
    return "system"


class Theme(QObject):
    """Keeps the application's palette in step with the requested or system colour scheme."""

    changed = Signal(bool)  # dark?

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        # What the platform offered before we changed anything: the light palette to return to,
        # and the judge of "system" where the platform reports no colour scheme.
        self._platform_palette = QPalette(app.palette())
        self._dark: bool | None = None
        app.styleHints().colorSchemeChanged.connect(self._system_changed)

    @property
    def dark(self) -> bool:
        return bool(self._dark)

    def system_is_dark(self) -> bool:
        scheme = self._app.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
        return is_dark_palette(self._platform_palette)

    def wants_dark(self) -> bool:
        choice = requested()
        return self.system_is_dark() if choice == "system" else choice == "dark"

    def light_palette(self) -> QPalette:
        if not is_dark_palette(self._platform_palette):
            return QPalette(self._platform_palette)
        return self._app.style().standardPalette()  # Fusion's own light palette

    def apply(self) -> None:
        dark = self.wants_dark()
        self._app.setPalette(dark_palette() if dark else self.light_palette())
        if dark != self._dark:
            self._dark = dark
            self.changed.emit(dark)

    def set_choice(self, choice: str) -> None:
        """Remember the user's choice (light, dark or system) and apply it now."""
        if choice not in CHOICES:
            raise ValueError(f"theme must be one of {', '.join(CHOICES)}, not {choice!r}")
        QSettings("Trainyard", "Trainyard").setValue(SETTING, choice)
        self.apply()

    def _system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if requested() == "system":
            self.apply()


def apply(app: QApplication) -> Theme:
    """Use Fusion with the right palette now and on every system change; idempotent."""
    existing = current()
    if existing is not None:
        existing.apply()
        return existing
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None and app.style().name().lower() != "fusion":
        app.setStyle(fusion)
    theme = Theme(app)
    theme.setObjectName("trainyard-theme")
    theme.apply()
    return theme


def current() -> Theme | None:
    """The Theme that `apply` installed on the running application, if any."""
    app = QGuiApplication.instance()
    return app.findChild(Theme, "trainyard-theme") if app is not None else None


def is_dark() -> bool:
    theme = current()
    return theme.dark if theme is not None else is_dark_palette(QGuiApplication.palette())
