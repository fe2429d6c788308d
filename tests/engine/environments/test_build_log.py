"""BuildLog: lines reach the file at once and go out as events; run_tool streams a real process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.environments.build import BuildEvent, BuildLog
from engine.environments.build.log import run_tool
from engine.errors import Cancelled


def test_every_call_is_in_the_file_at_once_and_is_an_event(tmp_path: Path) -> None:
    events: list[BuildEvent] = []
    path = tmp_path / "logs" / "20_image_build_log.txt"
    log = BuildLog(path, events.append)
    assert path.exists()  # created up front, so a tailer can open it before the first line
    log.step("Solving")
    assert path.read_text() == "==> Solving\n"  # flushed: readable before the next call
    log.line("resolved 3 packages\n")
    log.progress(0.5, "half way")
    log.progress(7, "clamped")
    log.done("ready")
    assert path.read_text().splitlines() == [
        "==> Solving", "resolved 3 packages", "[ 50%] half way", "[100%] clamped", "ready"]
    assert events == [
        BuildEvent("step", "Solving"), BuildEvent("log", "resolved 3 packages"),
        BuildEvent("progress", "half way", 0.5), BuildEvent("progress", "clamped", 1.0),
        BuildEvent("done", "ready", 1.0)]


def test_without_a_file_only_events(tmp_path: Path) -> None:
    events: list[BuildEvent] = []
    log = BuildLog(None, events.append)
    log.line("x")
    assert events == [BuildEvent("log", "x")]
    assert list(tmp_path.iterdir()) == []


def test_run_tool_streams_lines_as_they_come_and_keeps_the_tail(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    log = BuildLog(tmp_path / "log.txt", lambda e: seen.append((time.monotonic(), e.message)))
    code = ("import sys, time\nfor i in range(60):\n    print('line', i, flush=True)\n"
            "    if i == 0: time.sleep(0.5)\nprint('to stderr', file=sys.stderr)\nsys.exit(3)\n")
    res = run_tool([sys.executable, "-c", code], log)
    assert res.returncode == 3 and not res.ok
    assert res.tail[-1] == "to stderr" and len(res.tail) == 40  # stdout and stderr, last 40 lines
    first = next(t for t, m in seen if m == "line 0")
    second = next(t for t, m in seen if m == "line 1")
    assert second - first >= 0.4  # line 0 arrived before the tool went on: streamed, not buffered
    text = (tmp_path / "log.txt").read_text()
    assert text.startswith("$ ") and "line 59\nto stderr\n" in text
    described = res.describe()
    assert "exit code: 3" in described and sys.executable in described and "to stderr" in described


def test_run_tool_missing_program() -> None:
    res = run_tool(["/nonexistent/tool", "--x"], BuildLog(None))
    assert res.returncode == 127 and "cannot start /nonexistent/tool" in res.tail[0]


def test_raising_from_the_event_handler_cancels_and_kills_the_tool(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    pids: list[int] = []

    def on_event(e: BuildEvent) -> None:
        if e.message.isdigit():
            pids.append(int(e.message))
        if e.message == "started":
            raise Cancelled("build cancelled")

    code = (f"import os, time\nprint(os.getpid())\nprint('started', flush=True)\ntime.sleep(30)\n"
            f"open({str(marker)!r}, 'w')\n")
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        run_tool([sys.executable, "-c", code], BuildLog(None, on_event))
    # Killed and reaped when the cancel propagated, not waited for: far less than the tool's 30 s sleep
    # (the margin is the interpreter's start-up on a loaded 2-core machine).
    assert time.monotonic() - t0 < 20
    assert len(pids) == 1 and not psutil.pid_exists(pids[0])
    assert not marker.exists()
