"""A recording org.freedesktop.Notifications server, standing in for the desktop's daemon.

    python notification_server.py BUS_ADDRESS

Owns the service name on that bus and prints one JSON line per Notify call. QtDBus dispatches a
call to `Notify` only when its D-Bus signature is exactly the specification's `susssasa{sv}i`,
as GDBus-based daemons (GNOME Shell, dunst) also insist. A line `click ID ACTION` on stdin
plays the user clicking notification ID: the ActionInvoked signal goes out on the bus.
"""

from __future__ import annotations

import json
import sys
import threading

from PySide6.QtCore import Q_ARG, ClassInfo, QCoreApplication, QMetaObject, QObject, Qt, Signal, Slot
from PySide6.QtDBus import QDBusConnection


# Without the class info QtDBus sends the exported signals on an interface named after the class.
@ClassInfo({"D-Bus Interface": "org.freedesktop.Notifications"})
class NotificationServer(QObject):
    # Exported: emitting it sends the D-Bus signal with the specification's signature (us).
    ActionInvoked = Signal("uint", str)

    def __init__(self) -> None:
        super().__init__()
        self._last_id = 0
        threading.Thread(target=self._read_clicks, daemon=True).start()

    def _read_clicks(self) -> None:
        for line in sys.stdin:
            word, nid, action = line.split()
            if word == "click":  # emitted on the GUI thread, where the bus connection lives
                QMetaObject.invokeMethod(self, "click", Qt.ConnectionType.QueuedConnection,
                                         Q_ARG("uint", int(nid)), Q_ARG("QString", action))

    @Slot("uint", str)
    def click(self, notification_id: int, action: str) -> None:
        self.ActionInvoked.emit(notification_id, action)

    @Slot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(self, app_name: str, replaces_id: int, app_icon: str, summary: str, body: str,
               actions: list[str], hints: dict, expire_timeout: int) -> int:
        self._last_id += 1
        print(json.dumps({"id": self._last_id, "app_name": app_name, "replaces_id": replaces_id,
                          "app_icon": app_icon, "summary": summary, "body": body, "actions": list(actions),
                          "hints": {k: str(v) for k, v in hints.items()}, "expire_timeout": expire_timeout}),
              flush=True)
        return self._last_id

    @Slot(result="QStringList")
    def GetCapabilities(self) -> list[str]:
        return ["body"]


def main() -> int:
    app = QCoreApplication(sys.argv[:1])
    bus = QDBusConnection.connectToBus(sys.argv[1], "notification-server")
    server = NotificationServer()
    if not bus.registerObject("/org/freedesktop/Notifications", "org.freedesktop.Notifications", server,
                              QDBusConnection.RegisterOption.ExportAllSlots
                              | QDBusConnection.RegisterOption.ExportAllSignals):
        sys.stderr.write(f"cannot register the object: {bus.lastError().message()}\n")
        return 1
    if not bus.registerService("org.freedesktop.Notifications"):
        sys.stderr.write(f"cannot own the service name: {bus.lastError().message()}\n")
        return 1
    print("ready", flush=True)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
