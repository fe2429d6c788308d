"""Fixtures for tests that run real local jobs through the engine and the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import InvalidState

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def ws_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(ws))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    return ws


@pytest.fixture
def eng(ws_dir: Path) -> Iterator[Engine]:
    e = Engine.open(ws_dir)
    yield e
    # Leave no run behind: cancel whatever is still active.
    for run in e.list_runs():
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):  # it ended since it was listed
                e.cancel(run.name)
            e.wait(run.name, timeout=30)
    e.close()


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a project folder: project({'train.py': 'code'}) -> path."""

    def make(files: dict[str, str], name: str = "proj") -> Path:
        root = tmp_path / name
        for rel, text in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
        return root

    return make


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def popen_cli(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    """Run the real `trainyard` CLI in a subprocess."""
    return run_cli


@pytest.fixture
def cli_popen():  # type: ignore[no-untyped-def]
    return popen_cli
