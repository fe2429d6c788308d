"""`docker: true` SSH targets against a real sshd on 127.0.0.1 (tests/engine/runs/sshd.py) whose host
daemon is this machine's dockerd (tests/infra/docker_setup.sh): everything goes through the docker
CLI in SSH sessions; the image is built by that daemon from a context sent through the host's blob
store, the script runs in a container with the run folder (code, inputs, records) mounted, and the
GPUs the run got from the host's (test-only FAKE, recorded) nvidia-smi inventory are requested from
the daemon, which has no GPU runtime here and says so."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker import errors as docker_errors

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.environments.build.docker import image_tag
from engine.errors import InvalidState
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.runtime.distribution import make_distribution
from engine.specs.jobs import load_job

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "engine" / "runs"))
from sshd import Sshd, start_sshd

BASE = "trainyard-test-base:latest"
FAKE_NVIDIA_SMI = ROOT / "tests" / "fixtures" / "fake_nvidia_smi"  # TEST ONLY: a recorded inventory
RECORDED = ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv"

TRAIN = """\
import os, sys
from azureml.core import Run
run = Run.get_context()
print("in a container:", os.path.exists("/.dockerenv"), flush=True)
print("python", sys.executable, flush=True)
print("input", open(os.path.join(sys.argv[1], "rows.csv")).read().strip(), flush=True)
print("nvidia", os.environ.get("NVIDIA_VISIBLE_DEVICES"), flush=True)
for i in range(20):
    run.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights")
"""
SIX = "import six, sys\nprint('six', six.__version__, 'from', sys.executable, flush=True)\n"


@pytest.fixture
def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any) -> Iterator[Sshd]:
    home = tmp_path / "home"  # the supervisor reads ~/.ssh: give it an empty one
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    fake = tmp_path / "fakebin"  # first on the sessions' PATH: the FAKE nvidia-smi
    fake.mkdir()
    shutil.copy(FAKE_NVIDIA_SMI, fake / "nvidia-smi")
    shutil.copy(RECORDED, fake / RECORDED.name)
    path = f"{fake}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    server = start_sshd(tmp_path / "sshd", extra_config=f"SetEnv PATH={path}\n")
    yield server
    server.stop()


@pytest.fixture
def eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: Sshd) -> Iterator[Engine]:
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    e = Engine.open(tmp_path / "ws")
    e.store.add_compute_target(
        "box",
        "ssh",
        {
            "host": sshd.host,
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(sshd.key),
            "known_hosts": str(sshd.known_hosts),
            "work_dir": str(tmp_path / "remote-runs"),
            "cache_dir": str(tmp_path / "host-cache"),
            "docker": True,
            "image": BASE,
            "network": "host",
        },
    )
    yield e
    for run in e.list_runs():
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):
                e.cancel(run.name)
            e.wait(run.name, timeout=30)
    e.close()


def _containers(docker_client: Any, run_name: str) -> list[Any]:
    return docker_client.containers.list(all=True, filters={"label": f"trainyard.run={run_name}"})


def test_a_job_runs_in_a_container_on_the_ssh_host_with_its_folder_and_inputs(
    eng: Engine, docker_client: Any, tmp_path: Path
) -> None:
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "rows.csv").write_text("a,b\n1,2\n")
    (proj / "src").mkdir()
    (proj / "src" / "train.py").write_text(TRAIN)
    job = proj / "job.yml"
    job.write_text(
        textwrap.dedent("""\
        command: python train.py ${{inputs.rows}}
        code: src
        compute: azureml:box
        inputs:
          rows: {type: uri_folder, path: ./data}
        resources: {gpus: 0}
        """)
    )
    run = eng.submit(load_job(job))
    final = eng.wait(run.name, timeout=180)
    files = RunFiles(Path(final.run_dir))
    log = files.driver_log.read_text()
    assert final.status == "Completed", (final.error, log, files.build_log.read_text()[-2000:])
    # No environment: the target's image, made sure to be on the host.
    assert (
        f"starting container trainyard-{run.name} from {image_tag(EnvironmentSpec(name=BASE, image=BASE))}"
        in log
    )
    assert "in a container: True" in log
    assert "python /usr/bin/python3" in log  # the image's python, not this machine's
    assert "input a,b\n1,2" in log  # the input sent to the host, mounted with the run folder
    assert "nvidia void" in log  # gpus: 0 hides every GPU from the container
    assert eng.metric_history(run.name, "loss").values.tolist() == [1.0 / (i + 1) for i in range(20)]
    assert (files.outputs / "model.txt").read_text() == "weights"
    assert _containers(docker_client, run.name) == []  # removed when it ended


def test_a_pip_environment_is_built_as_an_image_by_the_hosts_daemon_once(
    eng: Engine, docker_client: Any, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "six_show.py").write_text(SIX)
    env = EnvironmentSpec(name="six-img", pip_requirements=("six==1.16.0",))
    tag = image_tag(EnvironmentSpec(name="six-img", pip_requirements=("six==1.16.0",), image=BASE))
    with contextlib.suppress(Exception):
        docker_client.images.remove(tag, force=True)
    try:
        first = eng.wait(
            eng.submit(
                JobSpec(
                    experiment_name="exp",
                    code_dir=code,
                    script="six_show.py",
                    compute="box",
                    environment_spec=env,
                )
            ).name,
            timeout=300,
        )
        files = RunFiles(Path(first.run_dir))
        build = files.build_log.read_text()
        assert first.status == "Completed", (first.error, build[-3000:], files.driver_log.read_text())
        assert first.properties["environment_cached"] is False
        assert "build context sent to" in build and "pip install" in build  # the daemon's build, streamed
        assert "six 1.16.0 from /opt/trainyard/venv/bin/python" in files.driver_log.read_text()
        image = docker_client.images.get(tag)  # built by the host's daemon, labelled with the spec hash
        assert image.labels["trainyard.env.hash"] == first.properties["environment_hash"]
        lock = eng.run_lock(first.name)  # taken on the host: the image's id and the pip packages inside
        assert lock is not None and lock.kind == "docker" and lock.image_id == image.id
        assert lock.by_name()["six"].version == "1.16.0" and "127.0.0.1" in lock.extra["host"]
        kept = tmp_path / "host-cache" / "envs" / f"{first.properties['environment_hash']}.image-lock.txt"
        assert kept.read_text().startswith(image.id + " ")  # kept there for cached starts
        assert image.id not in build and "--- trainyard" not in build  # the lock came apart from the log
        assert first.properties["environment_lock"] == lock.id

        second = eng.wait(
            eng.submit(
                JobSpec(
                    experiment_name="exp",
                    code_dir=code,
                    command="python six_show.py",
                    compute="box",
                    environment_spec=env,
                )
            ).name,
            timeout=120,
        )
        files = RunFiles(Path(second.run_dir))
        assert second.status == "Completed", second.error
        assert second.properties["environment_cached"] is True
        assert f"image {tag} is already on" in files.build_log.read_text()
        assert "six 1.16.0" in files.driver_log.read_text()
        assert second.properties["environment_lock"] == lock.id  # the lock kept on the host, read back

        # A re-run from the lock runs in that very image (by its id), on the host.
        again = eng.wait(eng.rerun(first.name).name, timeout=300)
        assert again.status == "Completed", again.error
        assert again.properties["rerun_from_lock"] == lock.id
        assert "six 1.16.0" in RunFiles(Path(again.run_dir)).driver_log.read_text()
        relock = eng.run_lock(again.name)
        assert relock is not None and relock.image_id == image.id

        # `trainyard environment prune --compute box` removes it from the host's daemon too.
        out = subprocess.run([sys.executable, "-m", "engine.cli.main", "environment", "prune", "--compute", "box",
                              "-o", "json"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert tag in json.loads(out.stdout)["images"]
        with pytest.raises(docker_errors.ImageNotFound):
            docker_client.images.get(tag)

        # Gone from the host's daemon, the locked image cannot be had again: the re-run says so.
        gone = eng.wait(eng.rerun(first.name).name, timeout=300)
        assert gone.status == "Failed"
        assert f"image {image.id} is not on" in (gone.error or "") and "could not be pulled" in (gone.error or "")
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(tag, force=True)


def test_the_gpus_a_run_got_on_the_host_are_requested_from_its_daemon(
    eng: Engine, docker_client: Any, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "t.py").write_text("print('never here')\n")
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="t.py", compute="box", gpus=2))
    final = eng.wait(run.name, timeout=120)
    log = RunFiles(Path(final.run_dir)).driver_log.read_text()
    # Two GPUs of the host's (recorded) inventory, asked of its daemon as a device request...
    assert re.search(r"assigned GPUs \d, \d of .*", log), log
    assert re.search(r'--gpus "device=\d,\d"', log), log
    # ...which has no GPU runtime on this machine: the daemon's own refusal fails the run.
    assert final.status == "Failed"
    assert "could not select device driver" in log
    assert "never here" not in log
    assert _containers(docker_client, run.name) == []


# Burns a core and holds 150 MiB (touched) for a few seconds, in the container.
BUSY = """
import time
x = bytearray(150 * 1024 * 1024)
end = time.time() + 4
while time.time() < end:
    pass
"""


def test_system_metrics_of_a_container_run_are_sampled_on_the_host(
    eng: Engine, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "busy.py").write_text(BUSY)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="busy.py", compute="box",
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"}))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Completed", final.error
    pulled = (Path(final.run_dir) / "system-metrics.jsonl").read_bytes().splitlines()
    cpu = eng.metric_history(run.name, "system/cpu_percent")
    assert len(cpu.values) == len(pulled) >= 4
    # The container's processes, not only the docker CLI waiting for them in the run's shell.
    assert cpu.values.max() > 20
    assert eng.metric_history(run.name, "system/memory_rss_mib").values.max() > 140
    # The host's nvidia-smi (recorded) lists GPUs, but the container was given none.
    assert not [m for m in eng.latest_metrics(run.name) if m.startswith("system/gpu")]


def test_canceling_a_run_stops_its_container_on_the_host(
    eng: Engine, docker_client: Any, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "spin.py").write_text(
        "import time\nprint('spinning', flush=True)\nwhile True:\n    time.sleep(0.1)\n"
    )
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="spin.py", compute="box"))
    files = RunFiles(Path(run.run_dir))
    deadline = time.monotonic() + 120
    while "spinning" not in (files.driver_log.read_text() if files.driver_log.exists() else ""):
        assert time.monotonic() < deadline, files.driver_log.read_text() if files.driver_log.exists() else ""
        time.sleep(0.2)
    assert [c.status for c in _containers(docker_client, run.name)] == ["running"]
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Canceled"
    assert _containers(docker_client, run.name) == []  # stopped and removed on the host


def test_a_failing_image_build_on_the_host_fails_the_run_with_the_builds_words(
    eng: Engine, docker_client: Any, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BASE}\nRUN echo about to fail && exit 7\n")
    code = tmp_path / "code"
    code.mkdir()
    (code / "t.py").write_text("print('never here')\n")
    env = EnvironmentSpec(name="broken", build_context=str(context))
    run = eng.wait(
        eng.submit(
            JobSpec(experiment_name="exp", code_dir=code, script="t.py", compute="box", environment_spec=env)
        ).name,
        timeout=180,
    )
    assert run.status == "Failed"
    assert [e.status for e in run.status_history][-2:] == ["Preparing", "Failed"]
    assert run.error is not None
    assert "the image build failed on" in run.error and "(docker exited with code" in run.error
    assert "about to fail" in run.error  # the build's own last lines
    assert "about to fail" in RunFiles(Path(run.run_dir)).build_log.read_text()  # streamed while it built
    assert not docker_client.images.list(name=image_tag(env))  # nothing tagged


# Rank 0 listens on MASTER_PORT, rank 1 says hello there; both hold 100 MiB and keep busy a while.
RENDEZVOUS = """
import os, socket, time
rank, port = int(os.environ["RANK"]), int(os.environ["MASTER_PORT"])
x = bytearray(100 * 1024 * 1024)
if rank == 0:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", port))
    server.listen(1)
    conn, _ = server.accept()
    print("rank 0 heard:", conn.recv(64).decode(), flush=True)
else:
    deadline = time.time() + 60
    while True:
        try:
            conn = socket.create_connection((os.environ["MASTER_ADDR"], port), timeout=5)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    conn.sendall(f"hello from rank {rank} in {socket.gethostname()}".encode())
    print("rank 1 said hello", flush=True)
conn.close()
end = time.time() + 3
while time.time() < end:
    pass
"""


def test_a_distributed_run_is_a_container_per_process_sampled_together(
    eng: Engine, docker_client: Any, tmp_path: Path
) -> None:
    """Two processes of one node, each in its own container on the host's daemon (host network):
    they find each other at MASTER_ADDR:MASTER_PORT; the node's sampler counts both containers."""
    config = dict(eng.store.get_compute_target("box").config)
    eng.store.add_compute_target("box2", "ssh", {**config, "hosts": [config["host"]]})
    code = tmp_path / "code"
    code.mkdir()
    (code / "rv.py").write_text(RENDEZVOUS)
    dist = make_distribution("pytorch", 2, 1)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="rv.py", compute="box2",
                             distribution=dist,
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"}))
    final = eng.wait(run.name, timeout=180)
    files = RunFiles(Path(final.run_dir))
    texts = {r: (files.system_logs / dist.log_name(r)).read_text() for r in (0, 1)}
    assert final.status == "Completed", (final.error, texts)
    assert "rank 0 heard: hello from rank 1" in texts[0] and "rank 1 said hello" in texts[1]
    # Both containers' processes (not the docker CLIs waiting for them), one node: plain names.
    assert eng.metric_history(run.name, "system/memory_rss_mib").values.max() > 2 * 95
    assert _containers(docker_client, run.name) == []  # --rm: none left
