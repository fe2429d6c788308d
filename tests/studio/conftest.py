"""Studio test fixtures: a real workspace in tmp_path and real runs of tiny scripts.

The scripts log through the `azureml.core` module the engine injects into every run, so the
studio is tested against exactly what a user's script produces.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.jobs.spec import JobSpec

RUN_TIMEOUT_MS = 30_000

TRAIN = textwrap.dedent('''
    import argparse, os, sys, time
    from azureml.core import Run

    p = argparse.ArgumentParser()
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--hold", default=None, help="log slowly until this file exists")
    p.add_argument("--fail", action="store_true")
    a = p.parse_args()
    run = Run.get_context()
    print("hello from train.py", flush=True)
    if a.hold:
        i = 0
        while not os.path.exists(a.hold) and i < 6000:
            run.log("loss", 1.0 / (i + 1))
            i += 1
            time.sleep(0.02)
        print(f"logged {i} points", flush=True)
    else:
        for i in range(a.points):
            run.log("loss", 1.0 / (i + 1))
            if i % 10 == 0:
                run.log("accuracy", i / a.points)
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.bin", "wb") as f:
        f.write(b"0" * 1234)
    if a.fail:
        print("something broke", file=sys.stderr)
        sys.exit(3)
    print("training finished", flush=True)
''')


def write_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(TRAIN)
    return folder


@pytest.fixture(autouse=True)
def _own_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test gets its own studio settings (window geometry, metric columns, saved views),
    in this process and in any studio it starts: no test reads what another test (or a studio
    process another test left running) wrote."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def engine(workspace: Path) -> Iterator[Engine]:
    eng = Engine.open(workspace)
    yield eng
    eng.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "my-project")


@pytest.fixture
def make_project() -> Any:
    """make_project(folder) -> folder holding the test train.py."""
    return write_project


@pytest.fixture
def submit(engine: Engine, project: Path) -> Any:
    """submit(*args, experiment=...) -> run name: a real run of train.py."""

    def _submit(*args: str, experiment: str = "exp-a") -> str:
        spec = JobSpec(experiment_name=experiment, code_dir=project, script="train.py", arguments=tuple(args))
        return engine.submit(spec).name

    return _submit


@pytest.fixture
def window(qtbot: Any, engine: Engine) -> Iterator[Any]:
    from studio import tasks
    from studio.mainwindow import MainWindow

    w = MainWindow(engine, restore=False, poll_ms=100)
    qtbot.addWidget(w)
    w.resize(1200, 760)
    w.show()
    qtbot.waitUntil(lambda: w.bridge.is_loaded, timeout=10_000)
    yield w
    w.shutdown()
    tasks.wait_all()


@pytest.fixture
def wait_status(qtbot: Any) -> Any:
    """wait_status(window, name, status): until the studio's runs table shows that status."""

    def _wait(window: Any, name: str, status: str) -> None:
        def check() -> None:
            run = window.runs_model.get(name)
            assert run is not None and run.status == status, run and run.status

        qtbot.waitUntil(check, timeout=RUN_TIMEOUT_MS)

    return _wait
