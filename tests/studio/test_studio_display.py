"""`trainyard` with no command and no screen: one line that says what to do, exit 1, no Qt abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.display import display_problem

ROOT = Path(__file__).resolve().parents[2]


def _trainyard(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    clean.update(PYTHONPATH=str(ROOT), TRAINYARD_WORKSPACE=str(tmp_path / "ws"), **env)
    return subprocess.run(
        [sys.executable, "-c", "from studio.launch import main; main()"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_no_display_says_so_in_one_line_and_exits_1(tmp_path):
    result = _trainyard(tmp_path)
    assert result.returncode == 1, result.stderr  # not 134 (Qt's abort)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no display" in lines[0]
    assert "trainyard --help" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]
    assert "xcb" not in result.stderr  # not Qt's misleading message
    assert not (tmp_path / "ws").exists()  # nothing opened or written


def test_a_display_nobody_serves_is_named(tmp_path):
    result = _trainyard(tmp_path, DISPLAY=":93")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: cannot connect to the X display ':93' (is the X server running?): use the command line "
        "instead (`trainyard --help`), or set QT_QPA_PLATFORM=offscreen"
    )


def test_offscreen_chosen_by_the_user_is_respected():
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert "DISPLAY is unset" in str(display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux"))


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (./test.sh installs it)")
def test_a_real_x_server_is_accepted(tmp_path):
    number = 90 + os.getpid() % 9
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while display_problem({"DISPLAY": f":{number}"}, "linux") is not None:
            assert xvfb.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.1)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=30)
