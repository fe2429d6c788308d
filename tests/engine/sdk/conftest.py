"""Fixtures for the SDK tests: a workspace, the `trainyard` command, and a stand-in nvidia-smi."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import InvalidState
from engine.sdk import Workspace

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from sdk_support import RECORDED_GPUS


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
