"""Runs in real containers (ContainerRun): live driver log, the in-run client, file ownership,
cancel, network modes, leftovers, and the error when no daemon answers."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from engine.compute.docker import ContainerRun, container_name, remove_leftover_containers, signal_of
from engine.environments.build.docker import docker_client as connect
from engine.errors import DockerUnavailable
from engine.runs.files import RunFiles
from engine.runs.launch import INJECT_DIR
from engine.tracking.records import read_writer, writers

BASE_IMAGE = "trainyard-test-base:latest"  # made by tests/infra/docker_setup.sh

TRAIN = """\
import os, sys, time
from azureml.core import Run
run = Run.get_context()
print("first line", os.getuid(), flush=True)
print("to stderr", file=sys.stderr, flush=True)
for _ in range(600):  # the test checks the log while we wait, then says go
    if os.path.exists("go"):
        break
    time.sleep(0.05)
for i in range(5):
    run.log("loss", 1.0 / (i + 1))
run.log("acc", 0.9)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
print("cwd", os.getcwd(), "home", os.environ["HOME"])
print("done")
"""


def make_run(tmp_path: Path, client: Any, code: str, argv: list[str] | None = None, **kw: Any) -> ContainerRun:
    root = tmp_path / "run"
    (root / "wd").mkdir(parents=True)
    (root / "wd" / "main.py").write_text(code)
    name = kw.pop("name", f"test-{tmp_path.name}")
    env = {"TRAINYARD_RUN_ID": name, "TRAINYARD_EXPERIMENT": "docker-tests"}
    return ContainerRun(kw.pop("image", BASE_IMAGE), argv or ["python", "main.py"], run_root=root, env=env,
                        inject_dir=INJECT_DIR, name=name, docker=client, **kw)


def wait_for_log(run: ContainerRun, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = run.files.driver_log.read_text()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the driver log:\n{run.files.driver_log.read_text()}")


def test_script_logs_live_writes_outputs_and_metrics_owned_by_the_user(docker_client: Any, tmp_path: Path) -> None:
    run = make_run(tmp_path, docker_client, TRAIN)
    run.start()
    try:
        log = wait_for_log(run, "first line")
        assert run.poll() is None  # seen live, while the script still runs
        assert "to stderr" in wait_for_log(run, "to stderr")
        assert f"first line {os.getuid()}" in log
        (run.files.wd / "go").write_text("")
        assert run.wait(timeout=60) == 0
        assert run.poll() == 0
    finally:
        run.remove()
    log = run.files.driver_log.read_text()
    assert "cwd /trainyard/run/wd home /tmp" in log and log.rstrip().endswith("done")
    model = run.files.wd / "outputs" / "model.txt"
    assert model.read_text() == "weights"
    assert model.stat().st_uid == os.getuid() and model.stat().st_gid == os.getgid()
    ids = writers(run.files.tracking)
    assert ids
    records = [r for w in ids for r in read_writer(run.files.tracking, w)[0]]
    assert [r.value for r in records if r.key == "loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert [r.value for r in records if r.key == "acc"] == [0.9]
    assert all(p.stat().st_uid == os.getuid() for p in run.files.tracking.iterdir())
    with pytest.raises(docker.errors.NotFound):  # removed once it ended
        docker_client.containers.get(run.name)


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another uid needs root")
def test_explicit_user_owns_what_the_run_writes(docker_client: Any, tmp_path: Path) -> None:
    run = make_run(tmp_path, docker_client,
                   "import os\nos.makedirs('outputs')\nopen('outputs/x','w').write('1')\nprint(os.getuid())\n",
                   user="1234:1234")
    run.start()
    try:
        assert run.wait(timeout=60) == 0, run.files.driver_log.read_text()
    finally:
        run.remove()
    assert "1234" in run.files.driver_log.read_text()
    assert (run.files.wd / "outputs" / "x").stat().st_uid == 1234
    assert all(p.stat().st_uid == 1234 for p in run.files.tracking.iterdir()) or not any(run.files.tracking.iterdir())


@contextlib.contextmanager
def a_non_root_user() -> Iterator[tuple[int, int]]:
    """(uid, gid) of a user who is not root: as root, a fresh account made with useradd (and removed
    afterwards); otherwise the user running the tests."""
    if os.geteuid() != 0:
        yield os.getuid(), os.getgid()
        return
    name = f"ty{uuid.uuid4().hex[:10]}"
    subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def as_user(uid: int, gid: int, fn: Callable[[], int]) -> int:
    """fn() in a forked child that has become uid:gid (as root), or here (as that user already).
    The child keeps access to the Docker socket through its group, as a member of `docker` would."""
    if os.geteuid() != 0:
        return fn()
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.setgroups([os.stat(sock).st_gid])
            os.setgid(gid)
            os.setuid(uid)
            code = fn()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("user", ["the default user", "user: uid:gid"])
def test_a_non_root_submitter_owns_what_its_container_run_writes(docker_client: Any, user: str) -> None:
    """Run as a non-root user (as root: a user made for the test), the script in the container runs
    with that uid, and what it writes into the run folder belongs to that user on the host."""
    code = ("import os\nfrom azureml.core import Run\nos.makedirs('outputs')\nopen('outputs/x','w').write('1')\n"
            "Run.get_context().log('loss', 0.5)\nprint('uid', os.getuid(), 'gid', os.getgid())\n")
    with a_non_root_user() as (uid, gid):
        assert uid != 0
        folder = Path(tempfile.mkdtemp(prefix="trainyard-non-root-"))  # outside root's 0700 pytest folders
        try:
            os.chown(folder, uid, gid)
            folder.chmod(0o755)

            def start_and_wait() -> int:
                run = make_run(folder, None, code, name=f"nonroot-{folder.name[-8:]}",
                               **({"user": f"{uid}:{gid}"} if user.startswith("user:") else {}))
                run.start()
                try:
                    return run.wait(timeout=60)
                finally:
                    run.remove()

            assert as_user(uid, gid, start_and_wait) == 0, (folder / "run").glob("**/*")
            files = RunFiles(folder / "run")
            log = files.driver_log.read_text()
            assert f"uid {uid} gid {gid}" in log, log
            out = files.wd / "outputs" / "x"
            assert out.read_text() == "1"
            assert (out.stat().st_uid, out.stat().st_gid) == (uid, gid)
            tracked = list(files.tracking.iterdir())
            assert tracked and all(p.stat().st_uid == uid for p in tracked)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def test_terminate_stops_a_sleeping_container_quickly_and_it_is_removed(docker_client: Any, tmp_path: Path) -> None:
    run = make_run(tmp_path, docker_client, "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    run.start()
    wait_for_log(run, "sleeping")
    t0 = time.monotonic()
    code = run.terminate(grace=10)
    took = time.monotonic() - t0
    assert code != 0 and signal_of(code) == signal.SIGTERM  # 143: TERM reached the script at once
    # Not the kill after the 10 s grace (that would end it with SIGKILL, 137); `docker stop` itself may
    # take a few seconds on a loaded 2-core machine.
    assert took < 10
    run.remove()
    assert remove_leftover_containers(run.run_name, docker=docker_client) == []
    assert not docker_client.containers.list(all=True, filters={"label": f"trainyard.run={run.run_name}"})


def test_terminate_kills_a_script_that_ignores_sigterm_after_the_grace(docker_client: Any, tmp_path: Path) -> None:
    run = make_run(tmp_path, docker_client, "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                   "print('stubborn', flush=True)\ntime.sleep(600)\n")
    run.start()
    try:
        wait_for_log(run, "stubborn")
        t0 = time.monotonic()
        code = run.terminate(grace=1)
        # Killed once the 1 s grace was over: not before it, and long before its 600 s sleep ends (the
        # upper bound leaves `docker stop` room on a loaded 2-core machine).
        assert signal_of(code) == signal.SIGKILL and 0.8 < time.monotonic() - t0 < 60
    finally:
        run.remove()


def test_failing_script_exit_code_and_leftover_cleanup(docker_client: Any, tmp_path: Path) -> None:
    run = make_run(tmp_path, docker_client, "import sys\nprint('bad input', file=sys.stderr)\nsys.exit(3)\n",
                   name=f"leftover-{tmp_path.name}")
    run.start()
    assert run.wait(timeout=60) == 3
    assert "bad input" in run.files.driver_log.read_text()
    # not removed (a supervisor that died): found by its label and removed
    assert remove_leftover_containers(run.run_name, docker=docker_client) == [container_name(run.run_name)]
    assert not docker_client.containers.list(all=True, filters={"label": f"trainyard.run={run.run_name}"})


NET_PROBE = """\
import os, socket
print("ifaces", sorted(os.listdir("/sys/class/net")))
try:
    socket.getaddrinfo("pypi.org", 443)
    print("dns ok")
except OSError:
    print("dns failed")
"""


@pytest.mark.parametrize("network", ["none", "host"])
def test_network_mode(docker_client: Any, tmp_path: Path, network: str) -> None:
    run = make_run(tmp_path, docker_client, NET_PROBE, network=network)
    run.start()
    try:
        assert run.wait(timeout=60) == 0
    finally:
        run.remove()
    log = run.files.driver_log.read_text()
    if network == "none":
        assert "ifaces ['lo']" in log and "dns failed" in log
    else:
        assert "ifaces ['lo']" not in log


def test_a_missing_daemon_says_how_to_start_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock_path = tmp_path / "docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))  # a socket file with no daemon behind it (not listening)
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sock_path}")
        t0 = time.monotonic()
        with pytest.raises(DockerUnavailable) as err:
            connect()
        # The client gives up at once on a socket nobody listens on; the bound only catches a hang.
        assert time.monotonic() - t0 < 10
    finally:
        sock.close()
    text = str(err.value)
    assert "Docker is not running" in text
    assert f"unix://{sock_path}" in text and "DOCKER_HOST" in text
    assert "systemctl start docker" in text and "dockerd" in text
