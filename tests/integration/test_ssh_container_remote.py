"""A job on a `type: ssh` compute target that is a real remote host with its own filesystem: a Docker
container (after /work/shared/recipes/ssh: the test base image + openssh-server) whose sshd listens on
127.0.0.1:PORT (--network host: the daemon has no bridge, so no -p publishing).

Unlike tests/engine/runs/test_ssh_compute.py (an sshd on this machine, so the "remote" shares our
files), nothing here is shared: the code must really be uploaded, the in-run client must run with the
container's Python, and metrics, logs and outputs must really come back over SSH. The image is built
once (its tag is a hash of the Dockerfile and the base image, so a rebuilt base gives a new one) and
kept; with it present the test takes a few seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.errors import InvalidState
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

BASE = "trainyard-test-base:latest"
MARKER_FILE = "/etc/trainyard-remote-marker"
MARKER = "only-inside-the-ssh-remote-container"
WORK_DIR = "/tmp/trainyard-runs"
DOCKERFILE = f"""\
FROM {BASE}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server python3 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh \\
 && ssh-keygen -A && echo {MARKER} > {MARKER_FILE}
CMD ["sh", "-c", "cp /authorized_keys /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys \\
&& exec /usr/sbin/sshd -D -e -p $SSH_PORT -o ListenAddress=127.0.0.1 -o PasswordAuthentication=no \\
-o PermitRootLogin=prohibit-password -o UsePAM=no -o ClientAliveInterval=5"]
"""

TRAIN = """\
import os, platform, sys
from azureml.core import Run
run = Run.get_context()
print("node", platform.node(), flush=True)
print("marker", open("/etc/trainyard-remote-marker").read().strip(), flush=True)
print("host folder visible:", os.path.exists(sys.argv[1]), flush=True)
print("cwd", os.getcwd(), flush=True)
for i in range(50):
    run.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights from " + platform.node() + "\\n")
print("finished", flush=True)
"""


@dataclass
class Remote:
    container: Any
    hostname: str
    port: int
    key: Path
    known_hosts: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_sshd(container: Any, port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(4) == b"SSH-":
                    return
        except OSError:
            pass
        container.reload()
        if container.status != "running":
            break
        time.sleep(0.05)
    logs = container.logs().decode(errors="replace")
    raise AssertionError(f"the container's sshd never answered on 127.0.0.1:{port} ({container.status}):\n{logs}")


@pytest.fixture(scope="session")
def sshd_image(docker_client: Any) -> str:
    """The remote's image, built when its tag is missing (apt inside: ~6-8 s here; kept afterwards)."""
    base_id = docker_client.images.get(BASE).id
    tag = "trainyard-test-sshd:" + hashlib.sha256((DOCKERFILE + base_id).encode()).hexdigest()[:12]
    if docker_client.images.list(name=tag):
        return tag
    log = []
    for chunk in docker_client.api.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=tag, network_mode="host",
                                         rm=True, forcerm=True, decode=True):
        log.append(chunk.get("stream") or chunk.get("error") or "")
        if "error" in chunk:
            pytest.fail(f"building {tag} failed:\n{''.join(log)[-4000:]}", pytrace=False)
    return tag


@pytest.fixture(scope="module")
def remote(docker_client: Any, sshd_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    keys = tmp_path_factory.mktemp("ssh-remote")
    key = keys / "client_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = _free_port()
    hostname = f"ty-remote-{uuid.uuid4().hex[:6]}"
    container = docker_client.containers.run(
        sshd_image, detach=True, name=f"{hostname}-{port}", hostname=hostname, network_mode="host",
        environment={"SSH_PORT": str(port)}, labels={"trainyard.test": "ssh-remote"},
        volumes={str(key) + ".pub": {"bind": "/authorized_keys", "mode": "ro"}})
    try:
        _wait_for_sshd(container, port)
        code, out = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
        assert code == 0, out
        kind, body = out.decode().split()[:2]
        known = keys / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {kind} {body}\n")
        yield Remote(container, hostname, port, key, known)
    finally:
        container.remove(force=True)


@pytest.fixture
def eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    ws = tmp_path / "ws"
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(ws))
    monkeypatch.setenv("TRAINYARD_CANCEL_GRACE", "2")
    home = tmp_path / "home"  # the supervisor reads ~/.ssh: give it an empty one
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    e = Engine.open(ws)
    yield e
    for run in e.list_runs():
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):  # it ended since it was listed
                e.cancel(run.name)
            e.wait(run.name, timeout=30)
    e.close()


def test_a_job_runs_in_a_container_reached_over_ssh(eng: Engine, remote: Remote, tmp_path: Path) -> None:
    eng.store.add_compute_target("ctr", "ssh", {
        "host": "127.0.0.1", "port": remote.port, "user": "root", "key_file": str(remote.key),
        "known_hosts": str(remote.known_hosts), "work_dir": WORK_DIR})
    code = tmp_path / "proj"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py", arguments=(str(tmp_path),),
                             compute="ctr"))
    final = eng.wait(run.name, timeout=60)
    files = RunFiles(Path(final.run_dir))
    log = files.driver_log.read_text()
    assert final.status == "Completed", (final.error, log)
    assert final.exit_code == 0
    assert [e.status for e in final.status_history] == [
        "NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing", "Completed"]
    remote_dir = f"{WORK_DIR}/{run.name}"
    assert final.properties["ssh_host"] == f"root@127.0.0.1:{remote.port}"
    assert final.properties["remote_dir"] == remote_dir
    assert final.properties["interpreter"] == "/usr/bin/python3"  # the container's

    # It ran in the container: its hostname, a file only the image has, and none of our files.
    assert f"node {remote.hostname}" in log
    assert f"marker {MARKER}" in log
    assert "host folder visible: False" in log
    assert f"cwd {remote_dir}/wd" in log and "finished" in log

    loss = eng.metric_history(run.name, "loss")
    assert loss.values.tolist() == [1.0 / (i + 1) for i in range(50)]
    assert loss.steps.tolist() == list(range(50))
    assert (files.outputs / "model.txt").read_text() == f"weights from {remote.hostname}\n"

    # The run folder was made and then removed inside the container (never on this machine).
    rc, listing = remote.container.exec_run(["ls", "-A", WORK_DIR])
    assert rc == 0, listing  # the work folder exists there: the run made it
    assert listing.decode().split() == []
    assert not Path(remote_dir).exists()


# --- failure paths against the container: a drop, a cancel, a failure --------------------------------

DENSE = """\
import os, time
from azureml.core import Run
run = Run.get_context()
for i in range(40):
    run.log("x", float(i))
    run.flush()
    time.sleep(0.01)
print("waiting for the go file", flush=True)
while not os.path.exists("/tmp/trainyard-go-" + os.environ["TRAINYARD_RUN_ID"]):
    time.sleep(0.02)
for i in range(40, 80):
    run.log("x", float(i))
print("done", flush=True)
"""

SPIN = """\
import os, subprocess, sys, time
from azureml.core import Run
run = Run.get_context()
os.makedirs("outputs", exist_ok=True)
open("outputs/checkpoint.txt", "w").write("step 1")
child = subprocess.Popen(["sleep", "300", sys.argv[1]])  # a child in the script's group
print("spinning", child.pid, flush=True)
i = 0
while True:
    run.log("tick", i)
    i += 1
    time.sleep(0.05)
"""

FAIL = """\
import os
os.makedirs("outputs", exist_ok=True)
open("outputs/partial.txt", "w").write("half done")
print("about to fail", flush=True)
raise ValueError("boom inside the container")
"""


def _target(eng: Engine, remote: Remote) -> None:
    eng.store.add_compute_target("ctr", "ssh", {
        "host": "127.0.0.1", "port": remote.port, "user": "root", "key_file": str(remote.key),
        "known_hosts": str(remote.known_hosts), "work_dir": WORK_DIR})


def _container_processes(remote: Remote) -> list[Any]:
    """Every process inside the container (seen from here: the host's pid namespace holds them)."""
    import psutil

    remote.container.reload()
    return psutil.Process(remote.container.attrs["State"]["Pid"]).children(recursive=True)


def _wait_log(files: RunFiles, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (files.driver_log.exists() and text in files.driver_log.read_text()):
        assert time.monotonic() < deadline, f"{text!r} never reached the driver log"
        time.sleep(0.05)


def _submit(eng: Engine, tmp_path: Path, source: str, *args: str) -> str:
    code = tmp_path / "proj"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(source)
    return eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py", arguments=args,
                              compute="ctr")).name


def _remote_dir_gone(remote: Remote, name: str) -> bool:
    rc, _ = remote.container.exec_run(["test", "-e", f"{WORK_DIR}/{name}"])
    return rc != 0


def test_a_dropped_connection_to_the_container_loses_and_duplicates_nothing(eng: Engine, remote: Remote,
                                                                             tmp_path: Path) -> None:
    _target(eng, remote)
    name = _submit(eng, tmp_path, DENSE)
    files = RunFiles(Path(eng.get_run(name).run_dir))
    _wait_log(files, "waiting for the go file")
    # Every connection's sshd process in the container dies: the TCP connections drop, the listener stays.
    inside = _container_processes(remote)  # (this reloads the container's attrs: the Pid below is current)
    listener = remote.container.attrs["State"]["Pid"]
    sessions = [p for p in inside if p.name() == "sshd" and p.ppid() == listener]
    assert sessions, [(p.pid, p.ppid(), p.name()) for p in inside]
    for p in sessions:
        p.kill()
    _wait_log(files, "reconnected to 127.0.0.1")
    rc, out = remote.container.exec_run(["touch", f"/tmp/trainyard-go-{name}"])
    assert rc == 0, out
    final = eng.wait(name, timeout=90)
    log = files.driver_log.read_text()
    assert final.status == "Completed", (final.error, log)
    assert eng.metric_history(name, "x").values.tolist() == [float(i) for i in range(80)]
    assert "lost the connection to 127.0.0.1; reconnecting" in log and "done" in log
    assert _remote_dir_gone(remote, name)


def test_cancelling_a_run_in_the_container_ends_its_process_group_and_brings_its_outputs(
        eng: Engine, remote: Remote, tmp_path: Path) -> None:
    _target(eng, remote)
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    name = _submit(eng, tmp_path, SPIN, marker)
    files = RunFiles(Path(eng.get_run(name).run_dir))
    _wait_log(files, "spinning")

    def marked() -> list[Any]:
        import psutil

        alive = []
        for p in _container_processes(remote):
            try:  # a zombie has ended: only its parent has not reaped it yet
                if p.status() != psutil.STATUS_ZOMBIE and marker in " ".join(p.cmdline()):
                    alive.append(p)
            except psutil.Error:
                pass
        return alive

    assert marked()  # the script and its sleeping child, inside the container
    eng.cancel(name)
    final = eng.wait(name, timeout=30)
    assert final.status == "Canceled"
    assert final.error == "canceled by the user"
    deadline = time.monotonic() + 10
    while marked() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked() == []
    assert eng.metric_history(name, "tick").values.size > 0
    assert (files.outputs / "checkpoint.txt").read_text() == "step 1"
    assert _remote_dir_gone(remote, name)


def test_a_failing_script_in_the_container_fails_the_run_and_its_outputs_come_back(
        eng: Engine, remote: Remote, tmp_path: Path) -> None:
    _target(eng, remote)
    name = _submit(eng, tmp_path, FAIL)
    final = eng.wait(name, timeout=60)
    files = RunFiles(Path(final.run_dir))
    assert final.status == "Failed", final.error
    assert final.exit_code == 1
    assert final.error == "the script exited with code 1: ValueError: boom inside the container"
    assert "about to fail" in files.driver_log.read_text()
    assert (files.outputs / "partial.txt").read_text() == "half done"
    assert _remote_dir_gone(remote, name)


# --- an environment built in the container ---------------------------------------------------------

SIX = "import sys, six\nprint('six', six.__version__, 'from', sys.executable, flush=True)\n"


def test_a_pip_environment_is_built_inside_the_container_from_pypi(eng: Engine, remote: Remote,
                                                                   tmp_path: Path) -> None:
    """The container has python3 and tar, no uv: Trainyard sends uv there, and the venv is built
    from PyPI by the container (through this network's re-signing proxy, whose CA is in the
    image's system store), in the container's cache."""
    from engine.entities import EnvironmentSpec
    from engine.environments.build import spec_hash

    _target(eng, remote)
    code = tmp_path / "proj"
    code.mkdir()
    (code / "show.py").write_text(SIX)
    env = EnvironmentSpec(name="six-in-ctr", pip_requirements=("six==1.16.0",))
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="show.py", compute="ctr",
                             environment_spec=env))
    final = eng.wait(run.name, timeout=300)
    files = RunFiles(Path(final.run_dir))
    assert final.status == "Completed", (final.error, files.build_log.read_text()[-3000:])
    h = spec_hash(env)
    assert f"six 1.16.0 from /root/.trainyard/envs/{h}/bin/python" in files.driver_log.read_text()
    assert "sending uv" in files.build_log.read_text()
    check = f"ls /root/.trainyard/bin; test -f /root/.trainyard/envs/{h}/.trainyard-ready && echo ready"
    rc, out = remote.container.exec_run(["sh", "-c", check])
    assert rc == 0, out
    assert "uv-" in out.decode() and "ready" in out.decode()
