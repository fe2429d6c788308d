"""A desktop notification when a run the studio watched ends.

On Linux (and BSDs) the notification goes to the desktop's notification server over D-Bus
(org.freedesktop.Notifications.Notify); elsewhere, or when no server answers, to the system tray
icon's balloon when a tray exists; otherwise nowhere (the status bar still says it). The D-Bus
call blocks until the server answers, so it runs off the GUI thread.

Only runs that end while the studio watches are announced: `observe()` (fed by the bridge's
`runsChanged`) ignores runs that had already ended when the studio opened.

Clicking the notification (its default action, or "Open run") or the tray balloon opens the run:
the server's ActionInvoked signal carries the notification id, which maps back to the run.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import SLOT, QObject, QSettings, Signal, Slot

from engine import entities as E
from studio import tasks
from studio.icons import APP_ICON, ICON_DIR, app_icon
from studio.style import fmt_duration

log = logging.getLogger(__name__)

SETTING = "notifications/enabled"
SERVICE = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
APP_NAME = "Trainyard"
TIMEOUT_MS = -1  # the server's default
TRAY_TIMEOUT_MS = 8000
TITLES = {"Completed": "Run completed", "Failed": "Run failed", "Canceled": "Run canceled"}
# (key, label) pairs, flattened: "default" is what a click on the notification's body invokes.
ACTIONS = ["default", "Open run"]
CONNECTION_PREFIX = "trainyard-notify-"


def notifications_enabled() -> bool:
    value = QSettings("Trainyard", "Trainyard").value(SETTING, True)
    return value not in (False, "false", "0", 0)


def set_notifications_enabled(enabled: bool) -> None:
    QSettings("Trainyard", "Trainyard").setValue(SETTING, bool(enabled))


def message_for(run: E.Run) -> tuple[str, str]:
    """(title, body) of the notification for an ended run."""
    title = TITLES.get(run.status, f"Run {run.status.lower()}")
    parts = [run.display_name or run.name, run.experiment_name]
    if run.duration is not None:
        parts.append(fmt_duration(run.duration))
    body = " · ".join(p for p in parts if p)
    if run.status == "Failed" and run.error:
        body += "\n" + run.error.strip().splitlines()[-1][:200]
    return title, body


def _bus(bus_address: str | None) -> Any:
    """The session bus, or a named connection to the bus at `bus_address` (shared by all threads)."""
    from PySide6.QtDBus import QDBusConnection

    if bus_address is None and not _session_bus_exists():
        raise RuntimeError("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
    return (QDBusConnection.sessionBus() if bus_address is None
            else QDBusConnection.connectToBus(bus_address, f"{CONNECTION_PREFIX}{bus_address}"))


def send_dbus(title: str, body: str, bus_address: str | None = None) -> int:
    """Call Notify on the session bus (or the bus at `bus_address`); returns the notification id.

    Blocking: call it from a worker thread. Raises RuntimeError when no server took it."""
    from PySide6.QtCore import Q_ARG, Q_RETURN_ARG, QMetaObject, Qt
    from PySide6.QtDBus import QDBusInterface

    bus = _bus(bus_address)
    if not bus.isConnected():
        raise RuntimeError(f"no D-Bus session bus: {bus.lastError().message() or 'not connected'}")
    iface = QDBusInterface(SERVICE, OBJECT_PATH, INTERFACE, bus)
    if not iface.isValid():
        raise RuntimeError(f"no notification server on the session bus: {iface.lastError().message()}")
    # Through the introspected interface so that each argument gets the type the server
    # declares (replaces_id is a uint32; a plain Python int would be sent as int32 and rejected).
    icon_uri = (ICON_DIR / f"{APP_ICON}.svg").as_uri()
    result = QMetaObject.invokeMethod(
        iface, "Notify", Qt.ConnectionType.DirectConnection, Q_RETURN_ARG("uint"),
        Q_ARG("QString", APP_NAME), Q_ARG("uint", 0), Q_ARG("QString", icon_uri),
        Q_ARG("QString", title), Q_ARG("QString", body), Q_ARG("QStringList", ACTIONS),
        Q_ARG("QVariantMap", {"desktop-entry": "trainyard"}), Q_ARG("int", TIMEOUT_MS))
    error = iface.lastError()
    if error.isValid():
        raise RuntimeError(f"the notification server refused the notification: {error.message()}")
    return int(result or 0)


def _session_bus_exists() -> bool:
    """Whether libdbus can find a session bus without trying to start one (X11 autolaunch)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")) or (
        runtime is not None and Path(runtime, "bus").exists())


def _prefers_dbus() -> bool:
    return sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))


class Notifier(QObject):
    """Announces ended runs on the desktop. Feed it `observe(runs)` or call `run_finished(run)`."""

    # (channel, title, body) once shown: channel is "dbus" or "tray".
    delivered = Signal(str, str, str)
    # Every run seen ending live (whether or not desktop notifications are on): for the status bar.
    ended = Signal(object)
    # The user clicked a notification: the name of its run.
    open_requested = Signal(str)

    def __init__(self, parent: QObject | None = None, *, bus_address: str | None = None,
                 use_dbus: bool | None = None) -> None:
        super().__init__(parent)
        self._bus_address = bus_address
        self._use_dbus = _prefers_dbus() if use_dbus is None else use_dbus
        self._since = time.time()  # runs that ended before this were not seen live
        self._seen: dict[str, str] = {}  # run name -> last status seen
        self._tray: Any = None
        self._tray_run: str | None = None  # the run of the balloon shown last
        self._shown: dict[int, str] = {}  # notification id -> run name
        self._listening = False

    def observe(self, runs: Iterable[E.Run]) -> None:
        """Announce the runs that reached an end state while the studio watched."""
        for run in runs:
            previous = self._seen.get(run.name)
            self._seen[run.name] = run.status
            if not run.is_terminal or previous in E.TERMINAL_STATUSES:
                continue
            seen_active = previous is not None
            # A short run may start and end between two polls: first seen already ended.
            ended_live = run.end_time is not None and run.end_time >= self._since
            if seen_active or ended_live:
                self.ended.emit(run)
                self.run_finished(run)

    def run_finished(self, run: E.Run) -> None:
        if not notifications_enabled():
            return
        title, body = message_for(run)
        if self._use_dbus:
            self._listen_for_clicks()
            address = self._bus_address
            (tasks.BackgroundOp(self, lambda: send_dbus(title, body, address))
             .success(lambda nid: self._delivered(int(nid), run.name, title, body))
             .failure(lambda exc: self._fallback(run.name, title, body, exc))
             .run())
        else:
            self._fallback(run.name, title, body, None)

    def _delivered(self, notification_id: int, run_name: str, title: str, body: str) -> None:
        self._shown[notification_id] = run_name
        while len(self._shown) > 200:  # a long session: forget the oldest
            del self._shown[next(iter(self._shown))]
        self.delivered.emit("dbus", title, body)

    def _listen_for_clicks(self) -> None:
        """Subscribe (on the GUI thread, once) to the server's ActionInvoked signal."""
        if self._listening:
            return
        self._listening = True
        try:
            bus = _bus(self._bus_address)
        except RuntimeError:
            return
        if bus.isConnected() and not bus.connect(SERVICE, OBJECT_PATH, INTERFACE, "ActionInvoked", self,
                                                  SLOT("_action_invoked(uint,QString)")):
            log.info("cannot listen for notification clicks: %s", bus.lastError().message())

    @Slot("uint", str)
    def _action_invoked(self, notification_id: int, action: str) -> None:
        run_name = self._shown.get(int(notification_id))
        if run_name is not None and action == "default":
            self.open_requested.emit(run_name)

    def _tray_clicked(self) -> None:
        if self._tray_run is not None:
            self.open_requested.emit(self._tray_run)

    def _fallback(self, run_name: str, title: str, body: str, exc: BaseException | None) -> None:
        from PySide6.QtWidgets import QSystemTrayIcon

        if exc is not None:
            log.info("desktop notification over D-Bus failed: %s", exc)
        if not QSystemTrayIcon.isSystemTrayAvailable() or not QSystemTrayIcon.supportsMessages():
            return
        if self._tray is None:
            self._tray = QSystemTrayIcon(app_icon(), self)
            self._tray.setToolTip(APP_NAME)
            self._tray.messageClicked.connect(self._tray_clicked)
            self._tray.show()
        self._tray_run = run_name
        self._tray.showMessage(title, body, app_icon(), TRAY_TIMEOUT_MS)
        self.delivered.emit("tray", title, body)
