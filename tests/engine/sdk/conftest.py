"""Fixtures for the SDK tests: a workspace, the `trainyard` command, and a stand-in nvidia-smi."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import InvalidState
from engine.sdk import Workspace

SCRIPTS = Path(__file__).resolve().parent / "scripts"
RECORDED_GPUS = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia_smi_query_gpu.csv"
_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(ws))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    return ws


@pytest.fixture
def ws(ws_dir: Path) -> Iterator[Workspace]:
    w = Workspace(ws_dir)
    yield w
    for run in w.engine.list_runs():  # leave no run behind
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):
                w.engine.cancel(run.name)
            w.engine.wait(run.name, timeout=30)
    w.engine.close()


@pytest.fixture
def no_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as one without GPUs, whatever it has: a test-only nvidia-smi that finds none."""
    fake_nvidia_smi(tmp_path / "no-gpu-bin", "echo 'No devices were found'; exit 6", monkeypatch)


@pytest.fixture
def four_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as one with four GPUs: a test-only nvidia-smi printing a recorded inventory."""
    fake_nvidia_smi(tmp_path / "gpu-bin", f"cat {RECORDED_GPUS}", monkeypatch)


def fake_nvidia_smi(folder: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def trainyard(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real `trainyard` command, in the environment the test set up."""
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
        check=False,
    )
