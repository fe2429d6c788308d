"""TensorBoard on a run's logs: ``trainyard job tensorboard -n RUN...`` and the studio's "Open in
TensorBoard" start the ``tensorboard`` package (an engine dependency) on a free port of
127.0.0.1, over each run's mirrored ``logs/`` folder (one named log dir per run).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from engine.errors import LaunchFailed, NotFound

__all__ = ["TensorBoardServer", "free_port", "start_tensorboard"]

START_TIMEOUT = 60.0  # seconds until TensorBoard answers (its first start imports a lot)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TensorBoardServer:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_tensorboard(
    logdirs: Mapping[str, Path], state_dir: Path, port: int | None = None
) -> TensorBoardServer:
    """Start TensorBoard over ``logdirs`` (name -> folder) and wait until it answers."""
    missing = [name for name, folder in logdirs.items() if not folder.is_dir()]
    if missing:
        raise NotFound(
            f"no TensorBoard logs for {', '.join(missing)}: the run wrote nothing under ./logs",
            "a script writes event files with e.g. torch.utils.tensorboard.SummaryWriter('logs/...')",
        )
    port = port or free_port()
    spec = ",".join(f"{name}:{folder}" for name, folder in logdirs.items())
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / f"tensorboard-{port}.log"
    argv = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir_spec",
        spec,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--reload_interval",
        "2",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = TensorBoardServer(proc, f"http://127.0.0.1:{port}/", log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise LaunchFailed(
                f"TensorBoard exited ({proc.returncode}) before it answered:\n{tail}",
                "check that the tensorboard package is installed with Trainyard",
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise LaunchFailed(
        f"TensorBoard did not answer on port {port} within {START_TIMEOUT:.0f} s", f"see {log}"
    )
