"""The build log: every line, step and progress update of an environment build goes to a file
(the studio tails it live as ``20_image_build_log.txt``) and out as a ``BuildEvent``.

Also the one way builders run tools (uv, conda, ...): ``run_tool`` streams the tool's output into
the log line by line and keeps its tail for the error message.
"""

from __future__ import annotations

import collections
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 40


@dataclass(frozen=True)
class BuildEvent:
    """One thing that happened during a build.

    kind: ``"log"`` (a line of tool output), ``"step"`` (a new phase began), ``"progress"``
    (``fraction`` in 0..1 of the whole build) or ``"done"`` (the build finished or was found cached).
    """

    kind: str
    message: str
    fraction: float | None = None


class BuildLog:
    """Appends to ``path`` (created with its folder when missing; ``None``: no file) and calls
    ``on_event`` for every line, step and progress update.

    Each call writes and flushes at once, so a reader tailing the file sees lines as they come.
    An exception raised by ``on_event`` propagates into the build and aborts it (a running tool is
    killed, nothing is cached): that is how a caller cancels a build.
    """

    def __init__(self, path: Path | None, on_event: Callable[[BuildEvent], None] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.on_event = on_event
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(exist_ok=True)

    # --- writing ------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.path is None:
            return
        with self._lock, open(self.path, "a", encoding="utf-8", errors="replace") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
            fh.flush()

    def _emit(self, event: BuildEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def line(self, text: str) -> None:
        """A line of output (a tool's, or a message of our own)."""
        text = text.rstrip("\r\n")
        self._write(text)
        self._emit(BuildEvent("log", text))

    def step(self, text: str) -> None:
        """A new phase of the build ("Solving conda environment", "Installing pip packages")."""
        self._write(f"==> {text}")
        self._emit(BuildEvent("step", text))

    def progress(self, fraction: float, text: str = "") -> None:
        """How far the whole build is, 0..1 (clamped)."""
        fraction = min(1.0, max(0.0, float(fraction)))
        self._write(f"[{fraction * 100:3.0f}%] {text}".rstrip())
        self._emit(BuildEvent("progress", text, fraction))

    def done(self, text: str) -> None:
        """The environment is ready (built now or found in the cache)."""
        self._write(text)
        self._emit(BuildEvent("done", text, 1.0))


@dataclass(frozen=True)
class ToolResult:
    command: list[str]
    returncode: int
    tail: list[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)

    def describe(self) -> str:
        """Command, exit code and the tail of the output: what an EnvBuildFailed message carries."""
        tail = "\n".join(f"    {line}" for line in self.tail) or "    (no output)"
        return f"command: {self.command_line}\nexit code: {self.returncode}\noutput (last lines):\n{tail}"


def run_tool(
    command: Sequence[str],
    log: BuildLog,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> ToolResult:
    """Run ``command``, streaming stdout+stderr into ``log`` line by line; returns exit code + tail.

    A tool that cannot be started gives exit code 127 and the OS error as its output. If the log's
    event handler raises (a cancel), the tool is killed and the exception propagates.
    """
    command = [str(c) for c in command]
    log.line(f"$ {shlex.join(command)}")
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None, cwd=str(cwd) if cwd is not None else None,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
    except OSError as exc:
        msg = f"cannot start {command[0]}: {exc}"
        log.line(msg)
        return ToolResult(command, 127, [msg])
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.rstrip("\r\n")
            tail.append(text)
            log.line(text)
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    return ToolResult(command, rc, list(tail))


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment tools run with: ours, minus an active venv/conda env that could redirect
    them, no colours, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")}
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env
