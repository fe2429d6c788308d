"""`job create --rerun RUN` checks a conda lock against its channel before anything is recorded:
a run in a conda env solved by py-rattler from a real local channel re-runs from its lock while
the channel has its packages; when the locked libgreet 2.0 leaves the channel (or is rebuilt with
other bytes under the same version) the re-run is refused, naming the package and what a build
from the spec would install instead, and the store and the runs folder stay as they were."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conda_channel import index_channel, make_package

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles

CLI = [sys.executable, "-m", "engine.cli.main"]


def trainyard(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(ws)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def created(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["name"]


@pytest.fixture
def eng(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = Engine.open(tmp_path / "ws")
    yield e
    e.close()


def completed(eng: Engine, name: str) -> None:
    final = eng.wait(name, timeout=240)
    files = RunFiles(Path(final.run_dir))
    assert final.status == "Completed", (final.error, files.driver_log.read_text() if files.driver_log.exists() else "")


def test_a_conda_rerun_is_refused_when_its_locked_package_left_the_channel(
    eng: Engine, tmp_path: Path, conda_channel: Path
) -> None:
    ws = tmp_path / "ws"
    channel = tmp_path / "channel"
    shutil.copytree(conda_channel, channel)
    code = tmp_path / "p"
    code.mkdir()
    (code / "main.py").write_text("print('ran')\n")
    conda = {"channels": [channel.as_uri()], "dependencies": ["python", "libgreet"]}
    env = EnvironmentSpec(name="greet", conda=conda)
    run1 = eng.submit(JobSpec(experiment_name="precheck", code_dir=code, script="main.py", environment_spec=env)).name
    completed(eng, run1)
    lock = eng.run_lock(run1)
    assert lock is not None and lock.kind == "conda" and lock.by_name()["libgreet"].version == "2.0"

    # The channel still has every locked file: the re-run goes ahead, from the lock.
    rerun = created(trainyard(ws, "job", "create", "--rerun", run1, "-o", "json"))
    completed(eng, rerun)
    assert eng.get_run(rerun).properties["rerun_from_lock"] == lock.id

    def refused() -> str:
        runs = {r.name for r in eng.list_runs()}
        folders = sorted(p.name for p in eng.location.runs_dir.iterdir())
        res = trainyard(ws, "job", "create", "--rerun", run1)
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
        assert f"job '{run1}' cannot be re-run from its environment lock {lock.id}" in res.stderr
        assert "--from-spec" in res.stderr
        assert {r.name for r in eng.list_runs()} == runs  # nothing recorded
        assert sorted(p.name for p in eng.location.runs_dir.iterdir()) == folders  # nor a run folder
        return res.stderr

    # libgreet 2.0 is rebuilt with other content under the same version and build.
    [pkg] = list(channel.glob("noarch/libgreet-2.0-*.tar.bz2"))
    make_package(channel, "libgreet", "2.0", files={"share/greet/greeting.txt": (b"changed\n", 0o644, False)})
    index_channel(channel)
    err = refused()
    assert f"libgreet 2.0 (0): {pkg.name} in {channel.as_uri()}/noarch has another sha256 now" in err

    # libgreet 2.0 leaves the channel: named, with what a build from the spec would give instead.
    pkg.unlink()
    index_channel(channel)
    err = refused()
    assert f"libgreet 2.0 (0): {pkg.name} is no longer in {channel.as_uri()}/noarch" in err
    assert "a build from its spec would change: ~ libgreet 2.0 (0) -> 1.0 (0)" in err

    # The way out the hint names works (the spec's build is still cached here, so it is reused).
    from_spec = created(trainyard(ws, "job", "create", "--rerun", run1, "--from-spec", "-o", "json"))
    completed(eng, from_spec)
