"""System metrics of a run in a container of this machine's Docker daemon: the supervisor samples
the container's process tree (its main process as this machine sees it) like a local run's."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec

BASE = "trainyard-test-base:latest"  # made by tests/infra/docker_setup.sh
BUSY = textwrap.dedent("""
    import time
    end = time.time() + 4
    x = bytearray(80 * 1024 * 1024)
    while time.time() < end:
        pass
""")


@pytest.fixture
def eng(tmp_path: Path, docker_client: Any):  # type: ignore[no-untyped-def]
    e = Engine.open(tmp_path / "ws")
    yield e
    e.close()


def test_a_container_run_gets_cpu_and_memory_metrics(eng: Engine, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(BUSY)
    run = eng.submit(
        JobSpec(
            experiment_name="sys-docker",
            code_dir=tmp_path / "src",
            script="train.py",
            compute="docker",
            environment_spec=EnvironmentSpec(name="base", image=BASE),
            environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"},
        )
    )
    final = eng.wait(run.name, timeout=300)
    assert final.status == "Completed", final.error
    cpu = eng.metric_history(run.name, "system/cpu_percent")
    assert len(cpu.values) >= 3
    assert cpu.values.max() > 5  # the busy loop inside the container (the machine may be loaded)
    assert eng.metric_history(run.name, "system/memory_rss_mib").values.max() > 80
