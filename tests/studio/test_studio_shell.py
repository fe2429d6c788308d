"""The studio's shell: icons, light/dark theme, desktop notifications when a run ends.

Notifications go over a real D-Bus: a private `dbus-daemon --session`, with a recording
org.freedesktop.Notifications server (tests/studio/notification_server.py) in the desktop
daemon's place.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QSize
from PySide6.QtGui import QColor, QIcon, QImage, QPalette
from PySide6.QtWidgets import QApplication, QListWidget, QListWidgetItem

from engine import entities as E
from studio import icons, notify, theme
from studio.style import STATUS_COLORS, STDERR_COLOR

REPO = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("notification_server.py")


# ---------------------------------------------------------------- helpers


def ink(image: QImage) -> list[QColor]:
    """The clearly drawn pixels of an icon image."""
    out = []
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha() > 200:
                out.append(c)
    return out


def mean_lightness(colors: list[QColor]) -> float:
    return sum(c.lightness() for c in colors) / len(colors)


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio."""
    def lum(c: QColor) -> float:
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in (c.redF(), c.greenF(), c.blueF())]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def themed(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """apply(theme_name) -> Theme; the application's palette and style are restored afterwards."""
    palette, style = QPalette(qapp.palette()), qapp.style().name()
    QSettings("Trainyard", "Trainyard").remove(theme.SETTING)

    def _apply(name: str | None) -> theme.Theme:
        if name is None:
            monkeypatch.delenv(theme.ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(theme.ENV_VAR, name)
        return theme.apply(qapp)

    yield _apply
    existing = theme.current()
    if existing is not None:
        existing.setParent(None)
        existing.deleteLater()
    qapp.setStyle(style)
    qapp.setPalette(palette)
    QSettings("Trainyard", "Trainyard").remove(theme.SETTING)


# ---------------------------------------------------------------- icons


def test_every_navigation_icon_loads_and_draws(qapp: QApplication) -> None:
    assert set(icons.NAV_ICONS) == {"experiments", "runs", "environments", "compute", "models", "data", "components"}
    for name in [*icons.NAV_ICONS.values(), *icons.icon_names()]:
        ic = icons.icon(name)
        assert not ic.isNull(), name
        image = ic.pixmap(QSize(24, 24)).toImage()
        assert image.size() == QSize(24, 24), name
        assert len(ink(image)) > 20, f"{name} draws nothing"
    with pytest.raises(KeyError, match="no icon named"):
        icons.icon("no-such-icon")


def test_icons_take_the_palette_text_colour_and_follow_a_switch_to_dark(themed: Any) -> None:
    themed("light")
    runs = icons.icon("runs")
    light_ink = ink(runs.pixmap(48, 48).toImage())
    assert mean_lightness(light_ink) < 90, "dark strokes on a light palette"

    themed("dark")
    dark_ink = ink(runs.pixmap(48, 48).toImage())  # the same QIcon object, repainted
    assert mean_lightness(dark_ink) > 180, "light strokes on a dark palette"

    # A selected item paints its icon in the highlighted-text colour (white on the blue selection).
    selected = ink(runs.pixmap(QSize(48, 48), QIcon.Mode.Selected).toImage())
    assert mean_lightness(selected) > 230
    # A fixed colour stays that colour, and icons are shared per (name, colour).
    red = ink(icons.icon("cancel", STATUS_COLORS["Failed"]).pixmap(48, 48).toImage())
    assert all(c.red() > c.green() + 60 for c in red)
    assert icons.icon("cancel", STATUS_COLORS["Failed"]) is icons.icon("cancel", QColor(STATUS_COLORS["Failed"]))


def test_navigation_list_renders_with_icons_in_both_themes(themed: Any, qtbot: Any, tmp_path: Path) -> None:
    for name in ("light", "dark"):
        themed(name)
        nav = QListWidget()
        qtbot.addWidget(nav)
        nav.setIconSize(QSize(20, 20))
        for key, icon_name in icons.NAV_ICONS.items():
            nav.addItem(QListWidgetItem(icons.icon(icon_name), key.title()))
        nav.setCurrentRow(1)
        nav.resize(220, 200)
        nav.show()
        image = nav.grab().toImage()
        assert image.save(str(tmp_path / f"nav-{name}.png"))
        # The first row's icon sits left of its text: stroke pixels contrasting with the base colour.
        base = nav.palette().color(QPalette.ColorRole.Base)
        icon_area = image.copy(2, 2, 26, 20)
        strokes = [c for c in ink(icon_area) if abs(c.lightness() - base.lightness()) > 90]
        assert len(strokes) > 15, f"no visible icon in the {name} navigation"


def test_app_icon_has_every_size_and_packaging_holds_its_exports(qapp: QApplication, tmp_path: Path) -> None:
    ic = icons.app_icon()
    assert not ic.isNull()
    assert {s.width() for s in ic.availableSizes()} >= {16, 32, 48, 256}
    # Coloured, not a line icon: the tile's blue is there at every size.
    centre = ic.pixmap(64, 64).toImage().pixelColor(8, 32)
    assert centre.blue() > 150 and centre.red() < 120

    svg, png = icons.export_app_icon(tmp_path)
    packaged_svg, packaged_png = REPO / "packaging" / "trainyard.svg", REPO / "packaging" / "trainyard.png"
    assert packaged_svg.read_text() == svg.read_text(), "packaging/trainyard.svg is stale: re-export it"
    image = QImage(str(packaged_png))
    assert image.size() == QSize(256, 256)
    # Rasterising differs by a unit here and there between CPUs (SIMD paths): a stale export differs more.
    assert _max_channel_difference(image, QImage(str(png))) <= 2, "packaging/trainyard.png is stale: re-export it"


def _max_channel_difference(a: QImage, b: QImage) -> int:
    import numpy as np

    def pixels(image: QImage) -> Any:
        image = image.convertToFormat(QImage.Format.Format_ARGB32)
        return np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).astype(int)

    assert a.size() == b.size()
    return int(np.abs(pixels(a) - pixels(b)).max())


# ---------------------------------------------------------------- theme


def test_dark_theme_sets_fusion_and_a_dark_palette(themed: Any, qapp: QApplication) -> None:
    t = themed("dark")
    pal = qapp.palette()
    assert qapp.style().name().lower() == "fusion"
    assert t.dark and theme.is_dark()
    assert pal.color(QPalette.ColorRole.Window).lightness() < 70
    assert pal.color(QPalette.ColorRole.Base).lightness() < 60
    assert pal.color(QPalette.ColorRole.WindowText).lightness() > 200
    assert pal.color(QPalette.ColorRole.Text).lightness() > 200
    disabled = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert 80 < disabled.lightness() < 160, "disabled text is dimmed but still readable"

    switched: list[bool] = []
    t.changed.connect(switched.append)
    themed("light")
    assert switched == [False]
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 200
    assert qapp.palette().color(QPalette.ColorRole.WindowText).lightness() < 60


def test_system_theme_follows_the_platform_palette_when_the_scheme_is_unknown(
        themed: Any, qapp: QApplication) -> None:
    themed(None)  # no override: "system"; offscreen reports the colour scheme as Unknown
    assert theme.requested() == "system"
    assert not theme.is_dark()
    existing = theme.current()
    existing.setParent(None)
    existing.deleteLater()
    # A platform that hands out a dark palette (a dark KDE/GTK theme without a colour-scheme hint).
    qapp.setPalette(theme.dark_palette())
    assert themed(None).dark


def test_the_theme_setting_is_remembered_and_the_environment_overrides_it(themed: Any) -> None:
    t = themed(None)
    t.set_choice("dark")
    assert QSettings("Trainyard", "Trainyard").value(theme.SETTING) == "dark"
    assert theme.requested() == "dark" and t.dark
    themed("light")
    assert theme.requested() == "light" and not theme.is_dark()
    with pytest.raises(ValueError, match="light, dark"):
        t.set_choice("purple")


def test_status_colours_are_readable_on_light_and_dark(themed: Any, qapp: QApplication) -> None:
    for name in ("light", "dark"):
        themed(name)
        pal = qapp.palette()
        for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
            background = pal.color(role)
            for status, color in {**STATUS_COLORS, "stderr (Logs tab)": STDERR_COLOR}.items():
                ratio = contrast(QColor(color), background)
                assert ratio >= 3.0, f"{status} {color} on {name} {role.name}: {ratio:.2f}"


# ---------------------------------------------------------------- notifications


class NotificationBus:
    """A private session bus with a recording notification server on it."""

    def __init__(self, folder: Path) -> None:
        daemon = shutil.which("dbus-daemon")
        if daemon is None:
            raise RuntimeError("dbus-daemon is missing: ./test.sh installs it (Debian package dbus-daemon)")
        self._daemon = subprocess.Popen([daemon, "--session", "--print-address", "--nofork", "--nopidfile"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._daemon.stdout is not None
        self.address = self._daemon.stdout.readline().strip()
        assert self.address.startswith("unix:"), self.address
        self._server = subprocess.Popen([sys.executable, str(SERVER), self.address],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(folder / "server.err").open("w"), text=True)
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        assert self._server.stdout is not None
        ready = self._server.stdout.readline().strip()
        assert ready == "ready", (folder / "server.err").read_text()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._server.stdout is not None
        for line in self._server.stdout:
            self.received.put(json.loads(line))

    def next(self, qtbot: Any, timeout_s: float = 30.0) -> dict[str, Any]:
        got: list[dict[str, Any]] = []

        def arrived() -> None:
            if not got:
                try:
                    got.append(self.received.get_nowait())
                except queue.Empty:
                    pass
            assert got

        qtbot.waitUntil(arrived, timeout=int(timeout_s * 1000))
        return got[0]

    def click(self, notification_id: int, action: str = "default") -> None:
        """The user clicks the notification: the server emits ActionInvoked."""
        assert self._server.stdin is not None
        self._server.stdin.write(f"click {notification_id} {action}\n")
        self._server.stdin.flush()

    def close(self) -> None:
        for proc in (self._server, self._daemon):
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def notification_bus(tmp_path: Path) -> Iterator[NotificationBus]:
    bus = NotificationBus(tmp_path)
    yield bus
    bus.close()


@pytest.fixture
def notifications_on() -> Iterator[None]:
    notify.set_notifications_enabled(True)
    yield
    notify.set_notifications_enabled(True)


def _ended_run(name: str, status: str, *, start: float, end: float, error: str | None = None) -> E.Run:
    return E.Run(name=name, experiment_name="exp-a", display_name=name, status=status, created_at=start,
                 run_dir="/nonexistent", start_time=start, end_time=end, error=error)


def test_notification_text_names_the_run_experiment_and_duration() -> None:
    title, body = notify.message_for(_ended_run("run-1", "Completed", start=100.0, end=225.0))
    assert (title, body) == ("Run completed", "run-1 · exp-a · 2m 05s")
    title, body = notify.message_for(_ended_run("run-2", "Failed", start=0.0, end=3.0,
                                                error="Traceback...\nValueError: bad input"))
    assert title == "Run failed" and body == "run-2 · exp-a · 3s\nValueError: bad input"
    assert notify.message_for(_ended_run("run-3", "Canceled", start=0.0, end=1.0))[0] == "Run canceled"


def test_runs_ending_live_reach_the_desktop_over_dbus(
        qtbot: Any, engine: Any, submit: Any, notification_bus: NotificationBus, notifications_on: None) -> None:
    from studio.bridge import Bridge

    # A run that ended before the studio opened is history, not news.
    old = submit("--points", "3")
    qtbot.waitUntil(lambda: engine.get_run(old).is_terminal, timeout=30_000)

    notifier = notify.Notifier(bus_address=notification_bus.address, use_dbus=True)
    shown: list[tuple[str, str, str]] = []
    notifier.delivered.connect(lambda *args: shown.append(args))
    bridge = Bridge(engine, interval_ms=100)
    bridge.runsChanged.connect(notifier.observe)
    bridge.start()
    try:
        qtbot.waitUntil(lambda: bridge.is_loaded, timeout=10_000)
        done = submit("--points", "20")
        first = notification_bus.next(qtbot)
        run = engine.get_run(done)
        assert first["summary"] == "Run completed"
        assert first["body"] == f"{done} · exp-a · {notify.fmt_duration(run.end_time - run.start_time)}"
        assert first["app_name"] == "Trainyard"
        assert first["replaces_id"] == 0 and first["expire_timeout"] == -1
        assert first["app_icon"].startswith("file://") and first["app_icon"].endswith("trainyard.svg")
        assert first["hints"] == {"desktop-entry": "trainyard"}
        assert first["actions"] == ["default", "Open run"]

        failed = submit("--fail", experiment="exp-b")
        second = notification_bus.next(qtbot)
        assert second["summary"] == "Run failed"
        assert second["body"].startswith(f"{failed} · exp-b · ")
        qtbot.waitUntil(lambda: len(shown) == 2)
        assert [s[:2] for s in shown] == [("dbus", "Run completed"), ("dbus", "Run failed")]
        assert notification_bus.received.empty(), f"unexpected notification (the old run {old}?)"

        # Clicking a notification asks for its run; other actions and unknown ids ask for nothing.
        opened: list[str] = []
        notifier.open_requested.connect(opened.append)
        notification_bus.click(first["id"] + second["id"] + 7)
        notification_bus.click(first["id"], "dismiss")
        notification_bus.click(second["id"])
        qtbot.waitUntil(lambda: opened == [failed], timeout=10_000)
        notification_bus.click(first["id"])
        qtbot.waitUntil(lambda: opened == [failed, done], timeout=10_000)
    finally:
        bridge.stop()


def test_notifications_can_be_turned_off(
        qtbot: Any, notification_bus: NotificationBus, notifications_on: None) -> None:
    import time

    notifier = notify.Notifier(bus_address=notification_bus.address, use_dbus=True)
    now = time.time()
    notify.set_notifications_enabled(False)
    assert not notify.notifications_enabled()
    notifier.observe([_ended_run("quiet", "Completed", start=now, end=now + 1)])
    notify.set_notifications_enabled(True)
    notifier.observe([_ended_run("loud", "Completed", start=now, end=now + 1)])
    assert notification_bus.next(qtbot)["body"].startswith("loud ")  # the first and only one
    # Seen ended once is enough: the next poll's copy of the same run is not announced again.
    notifier.observe([_ended_run("loud", "Completed", start=now, end=now + 1)])
    notifier.observe([_ended_run("other", "Canceled", start=now, end=now + 1)])
    assert notification_bus.next(qtbot)["body"].startswith("other ")
    assert notification_bus.received.empty()


def test_without_a_notification_server_nothing_breaks(qtbot: Any, tmp_path: Path, notifications_on: None) -> None:
    """No server on the bus (and no tray offscreen): the call fails off the GUI thread, quietly."""
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--print-address", "--nofork", "--nopidfile"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        with pytest.raises(RuntimeError, match="no notification server"):
            notify.send_dbus("t", "b", address)
        notifier = notify.Notifier(bus_address=address, use_dbus=True)
        shown: list[Any] = []
        notifier.delivered.connect(lambda *a: shown.append(a))
        from studio import tasks

        before = tasks.in_flight()
        notifier.run_finished(_ended_run("r", "Completed", start=0.0, end=1.0))
        qtbot.waitUntil(lambda: tasks.in_flight() == before, timeout=10_000)
        assert shown == []
    finally:
        daemon.terminate()
        daemon.wait(10)


def test_clicking_a_run_notification_opens_the_run_in_the_window(
        qtbot: Any, window: Any, submit: Any, wait_status: Any) -> None:
    name = submit("--points", "5")
    wait_status(window, name, "Completed")
    window.showMinimized()
    window.notifier.open_requested.emit(name)
    assert window.current_page() == "run"
    assert window.detail is not None and window.detail.name == name
    assert not window.isMinimized()
