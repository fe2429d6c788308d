"""Registered Docker compute targets against the real daemon: a `type: docker` target with
`network: none` and a default `image:` runs a job that names no environment in a container with no
network; a pip environment without an image is built on top of the target's image; a GPU request
reaches the daemon as a device request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

BASE = "trainyard-test-base:latest"
_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]

PROBE = """\
import os, socket
print("dockerenv exists:", os.path.exists("/.dockerenv"))
print("interfaces:", sorted(os.listdir("/sys/class/net")))
try:
    socket.getaddrinfo("deb.debian.org", 80)
    print("network: yes")
except OSError as exc:
    print("network: no,", type(exc).__name__)
os.makedirs("outputs", exist_ok=True)
open("outputs/done.txt", "w").write("ok")
"""


def trainyard(*args: str, workspace: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(workspace)}
    return subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, env=env, timeout=timeout)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_job_on_a_docker_target_runs_in_its_image_with_no_network(tmp_path: Path, docker_client: Any) -> None:
    ws = tmp_path / "ws"
    target = write(tmp_path / "boxed.yml", f"""\
        name: boxed
        type: docker
        network: none
        image: {BASE}
    """)
    res = trainyard("compute", "create", "-f", str(target), "-o", "json", workspace=ws)
    assert res.returncode == 0, res.stderr
    write(tmp_path / "exp" / "src" / "probe.py", PROBE)
    # python3: the test base image (Debian) has no `python` command
    job = write(tmp_path / "exp" / "job.yml", "command: python probe.py\ncode: src\ncompute: azureml:boxed\n")
    res = trainyard("job", "create", "-f", str(job), "--stream", "-o", "json", workspace=ws)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    files = RunFiles(Path(doc["run_dir"]))
    log = files.driver_log.read_text()
    assert doc["status"] == "Completed", (doc["error"], log)
    assert doc["compute"] == "boxed"
    assert doc["properties"]["image"] == BASE and "interpreter" not in doc["properties"]
    assert "dockerenv exists: True" in log
    assert "interfaces: ['lo']" in log  # network none: loopback only
    assert "network: no, gaierror" in log
    out = files.outputs / "done.txt"
    assert out.read_text() == "ok" and out.stat().st_uid == os.getuid()
    assert "using the compute target's image" in (files.system_logs / "20_image_build_log.txt").read_text()
    assert docker_client.containers.list(all=True, filters={"label": f"trainyard.run={doc['name']}"}) == []


def test_a_pip_environment_is_built_on_the_targets_image(tmp_path: Path, docker_client: Any) -> None:
    eng = Engine.open(tmp_path / "ws")
    try:
        eng.store.add_compute_target("boxed", "docker", {"network": "none", "image": BASE})
        code = write(tmp_path / "p" / "main.py", "import os, sys\nprint('in a container:', "
                                                 "os.path.exists('/.dockerenv'), sys.prefix)\n").parent
        env = EnvironmentSpec(name="on-target-image", pip_requirements=(f"# {time.time_ns()}",))
        run = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py", compute="boxed",
                                 environment_spec=env))
        final = eng.wait(run.name, timeout=300)
        files = RunFiles(Path(final.run_dir))
        log = files.driver_log.read_text() if files.driver_log.exists() else ""
        assert final.status == "Completed", (final.error, log)
        assert "in a container: True /opt/trainyard/venv" in log
        build_log = (files.system_logs / "20_image_build_log.txt").read_text()
        assert BASE in build_log
        assert final.properties["image"].startswith("trainyard-env:")
    finally:
        eng.close()


def test_a_gpu_request_reaches_the_daemon(tmp_path: Path, docker_client: Any) -> None:
    """With the NVIDIA runtime the run completes; without it the daemon refuses the device request
    and the run fails saying what to install."""
    eng = Engine.open(tmp_path / "ws")
    try:
        eng.store.add_compute_target("gpu-box", "docker", {"network": "none", "image": BASE, "gpus": -1})
        code = write(tmp_path / "p" / "main.py", "import os\nprint('visible:', os.environ.get("
                                                 "'NVIDIA_VISIBLE_DEVICES'))\n").parent
        run = eng.submit(JobSpec(experiment_name="docker", code_dir=code, script="main.py", compute="gpu-box",
                                 gpus=1))
        final = eng.wait(run.name, timeout=120)
        spec = json.loads(RunFiles(Path(final.run_dir)).spec.read_text())
        assert spec["gpus"] == 1  # the job's request wins over the target's "all"
        has_nvidia = "nvidia" in (docker_client.info().get("Runtimes") or {})
        if has_nvidia:
            assert final.status == "Completed", final.error
        else:
            assert final.status == "Failed"
            assert "NVIDIA Container Toolkit" in (final.error or ""), final.error
    finally:
        eng.close()
