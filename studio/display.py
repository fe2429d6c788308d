"""Is there a screen to open the studio on? Asked before Qt is: without one, Qt aborts the
process (exit 134) with a misleading message about xcb-cursor0.

Standard library only and cheap (a socket connect, no Qt): it runs before QApplication."""

from __future__ import annotations

import ctypes.util
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

ADVICE = "use the command line instead (`trainyard --help`), or set QT_QPA_PLATFORM=offscreen"
X_SOCKET_DIR = Path("/tmp/.X11-unix")
CONNECT_TIMEOUT_S = 1.0


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """One line saying why no window can open here, or None when one can (or we cannot tell)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None  # macOS and Windows always have their own platform plugin
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen and not chosen.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc, eglfs…: the user chose it
    wayland, x11 = env.get("WAYLAND_DISPLAY", ""), env.get("DISPLAY", "")
    if not chosen.startswith("xcb") and wayland and _wayland_reachable(wayland, env):
        return None
    if chosen.startswith("wayland"):
        return f"no Wayland display to open the studio on (WAYLAND_DISPLAY={wayland or 'unset'}): {ADVICE}"
    if not x11:
        unset = "DISPLAY is unset" if chosen else "DISPLAY and WAYLAND_DISPLAY are unset"
        return f"no display to open the studio on ({unset}): {ADVICE}"
    if not _x11_reachable(x11):
        return f"cannot connect to the X display {x11!r} (is the X server running?): {ADVICE}"
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt needs the libxcb-cursor0 library to open a window: install it "
            f"(e.g. `sudo apt install libxcb-cursor0`), or {ADVICE}"
        )
    return None


def _wayland_reachable(name: str, env: Mapping[str, str]) -> bool:
    path = Path(name) if name.startswith("/") else Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / name
    return path.exists()


def _x11_reachable(display: str) -> bool:
    """Connect to the X server DISPLAY names ([host]:N[.S]); an unparseable one counts as reachable
    (let Qt judge it)."""
    host, _, rest = display.rpartition(":")
    number = rest.partition(".")[0]
    if not number.isdigit():
        return True
    try:
        if host in ("", "unix") or host.startswith("/"):
            path = host if host.startswith("/") else str(X_SOCKET_DIR / f"X{number}")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(CONNECT_TIMEOUT_S)
                try:
                    sock.connect(path)
                except OSError:
                    sock.connect("\0" + str(X_SOCKET_DIR / f"X{number}"))  # Linux's abstract socket
            return True
        with socket.create_connection((host, 6000 + int(number)), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False
