"""Built environments are cached per user and shared by every workspace: a second workspace's
run finds the first workspace's build; `environment prune` in one workspace leaves alone a build
a run of another workspace is using, and says how much it freed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.workspace import env_cache_dir

ROOT = Path(__file__).resolve().parents[3]
BUILD_LOG = "20_image_build_log.txt"


def _project(root: Path, body: str) -> Path:
    root.mkdir(parents=True)
    (root / "main.py").write_text(textwrap.dedent(body))
    return root


def _prune(ws: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "-w", str(ws), "environment", "prune"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_workspace_reuses_the_build_and_prune_spares_a_build_in_use(tmp_path: Path) -> None:
    cache = env_cache_dir()
    assert cache == Path(os.environ["TRAINYARD_ENV_CACHE"])  # the test's own (tests/conftest.py)
    env = EnvironmentSpec(name="with-six", pip_requirements=("six",))
    code = _project(
        tmp_path / "p",
        """
        import sys, six, time, os
        print("prefix", sys.prefix, flush=True)
        while os.path.exists(os.environ.get("HOLD", "/nonexistent")):
            time.sleep(0.1)
    """,
    )
    ws1, ws2 = tmp_path / "ws1", tmp_path / "ws2"
    first, second = Engine.open(ws1), Engine.open(ws2)
    try:
        assert first.location.envs_dir == second.location.envs_dir == cache
        run1 = first.submit(
            JobSpec(experiment_name="e", code_dir=code, script="main.py", environment_spec=env)
        )
        done1 = first.wait(run1.name, timeout=300)
        assert done1.status == "Completed", done1.error
        assert done1.properties["environment_cached"] is False  # built here, once

        # The second workspace: the same spec is a cache hit, no build.
        hold = tmp_path / "hold"
        hold.touch()
        os.environ["HOLD"] = str(hold)
        try:
            run2 = second.submit(
                JobSpec(experiment_name="e", code_dir=code, script="main.py", environment_spec=env)
            )
            files2 = RunFiles(Path(run2.run_dir))
            deadline = time.monotonic() + 240
            while "prefix" not in (files2.driver_log.read_text() if files2.driver_log.exists() else ""):
                assert time.monotonic() < deadline, "the second run never started"
                assert not second.get_run(run2.name).is_terminal, second.get_run(run2.name).error
                time.sleep(0.2)
            log2 = (files2.system_logs / BUILD_LOG).read_text()
            assert "Using cached environment" in log2 and "uv" not in log2.replace(
                "Using cached environment", ""
            )
            assert second.get_run(run2.name).properties["environment_cached"] is True
            assert str(cache) in files2.driver_log.read_text()

            # Pruning from the FIRST workspace (whose store knows no active run) keeps the build
            # the second workspace's run is using.
            kept = _prune(ws1)
            assert kept.returncode == 0, kept.stderr
            assert "Nothing to remove" in kept.stdout
            assert (cache / done1.properties["environment_hash"]).is_dir()
        finally:
            hold.unlink()
            os.environ.pop("HOLD", None)
        done2 = second.wait(run2.name, timeout=120)
        assert done2.status == "Completed", done2.error

        pruned = _prune(ws1)  # nobody uses it now: removed, with the space it took
        assert pruned.returncode == 0, pruned.stderr
        assert "Removed 1 built environment(s)" in pruned.stdout and " MB freed" in pruned.stdout
        assert not (cache / done1.properties["environment_hash"]).exists()
    finally:
        first.close()
        second.close()
