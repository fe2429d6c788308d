"""Every backend's run handle is an engine.compute.handle.RunHandle, which is all the supervisor uses."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.compute.docker import ContainerRun
from engine.compute.handle import RunHandle
from engine.compute.local import LocalProcess, ProcessGroup, start_local
from engine.compute.ssh import SshRun
from engine.runtime.files import RunFiles


def test_each_backend_has_the_run_handle_shape() -> None:
    for cls in (LocalProcess, ProcessGroup, ContainerRun, SshRun):
        missing = [m for m in ("poll", "wait", "terminate", "cleanup", "recorded_exit_code")
                   if not callable(getattr(cls, m, None))]
        assert not missing, (cls.__name__, missing)


def test_a_local_script_runs_through_the_handle(tmp_path: Path) -> None:
    files = RunFiles(tmp_path)
    files.wd.mkdir()
    files.system_logs.mkdir()
    handle = start_local([sys.executable, "-c", "print('hi')"], files, {"PATH": "/usr/bin:/bin"}, None, 1.0)
    assert isinstance(handle, RunHandle)
    assert handle.wait(30) == 0 and handle.cleanup() == 0 and handle.recorded_exit_code(0) == 0
    assert handle.failure is None and handle.failed_rank is None
    assert "hi" in files.driver_log.read_text()
