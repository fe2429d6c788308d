"""SSH hosts as GPU boxes, against real sshd containers (the image of test_ssh_container_remote):

- GPU inventory and assignment on the host: the container has the test-only FAKE nvidia-smi
  (tests/fixtures/fake_nvidia_smi, a recorded four-GPU inventory) on its PATH; runs there get
  disjoint CUDA_VISIBLE_DEVICES and a third waits Queued until one ends;
- a target reachable only through a jump host: its sshd listens on 127.0.0.2, ~/.ssh/config
  says `ProxyJump`, and the jump host's sshd log shows the forwarded connection.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_ssh_container_remote as container_fixtures

from engine.api import Engine
from engine.compute.ssh import SshTarget
from engine.compute.sshprobe import host_key, probe_host, ssh_gpus
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

# The sshd image and the engine fixture of the container tests, shared rather than copied.
sshd_image = container_fixtures.sshd_image
eng = container_fixtures.eng

ROOT = Path(__file__).resolve().parents[2]
FAKE_NVIDIA_SMI = ROOT / "tests" / "fixtures" / "fake_nvidia_smi"
RECORDED = ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv"
WORK_DIR = "/tmp/trainyard-runs"
SSHD = (
    "cp /authorized_keys /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys && "
    "exec /usr/sbin/sshd -D -e -p {port} -o ListenAddress={address} -o PasswordAuthentication=no "
    "-o PermitRootLogin=prohibit-password -o UsePAM=no -o ClientAliveInterval=5 -o LogLevel={level}"
)


@dataclass
class Host:
    container: Any
    address: str
    port: int
    hostname: str

    @property
    def entry(self) -> str:
        return f"[{self.address}]:{self.port}"


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _start(docker_client: Any, image: str, key: Path, address: str, level: str = "INFO") -> Host:
    port = _free_port(address)
    hostname = f"ty-{address.replace('.', '-')}-{uuid.uuid4().hex[:6]}"
    container = docker_client.containers.run(
        image,
        ["sh", "-c", SSHD.format(port=port, address=address, level=level)],
        detach=True,
        name=f"{hostname}-{port}",
        hostname=hostname,
        network_mode="host",
        labels={"trainyard.test": "ssh-gpus"},
        volumes={f"{key}.pub": {"bind": "/authorized_keys", "mode": "ro"}},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection((address, port), timeout=1) as s:
                if s.recv(4) == b"SSH-":
                    break
        except OSError:
            pass
        container.reload()
        if container.status != "running" or time.monotonic() > deadline:
            logs = container.logs().decode(errors="replace")
            container.remove(force=True)
            raise AssertionError(f"sshd in {container.name} never answered on {address}:{port}:\n{logs}")
        time.sleep(0.05)
    return Host(container, address, port, hostname)


def _known(host: Host) -> str:
    code, out = host.container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
    assert code == 0, out
    kind, body = out.decode().split()[:2]
    return f"{host.entry} {kind} {body}\n"


def _install_fake_nvidia_smi(host: Host) -> None:
    """The FAKE nvidia-smi and its recording into /usr/local/bin of the container (on every PATH there)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(FAKE_NVIDIA_SMI, arcname="nvidia-smi")
        tar.add(RECORDED, arcname=RECORDED.name)
    assert host.container.put_archive("/usr/local/bin", buf.getvalue())


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ssh-gpus")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "client_ed25519")], check=True
    )
    return folder


@pytest.fixture(scope="module")
def gpu_box(docker_client: Any, sshd_image: str, keys: Path) -> Iterator[Host]:
    host = _start(docker_client, sshd_image, keys / "client_ed25519", "127.0.0.1")
    try:
        _install_fake_nvidia_smi(host)
        (keys / "known_hosts").write_text(_known(host))
        yield host
    finally:
        host.container.remove(force=True)


def _gpu_target(eng: Engine, box: Host, keys: Path) -> dict[str, Any]:
    config = {
        "host": "127.0.0.1",
        "port": box.port,
        "user": "root",
        "key_file": str(keys / "client_ed25519"),
        "known_hosts": str(keys / "known_hosts"),
        "work_dir": WORK_DIR,
    }
    eng.store.add_compute_target("gpu-box", "ssh", config)
    return config


HOLD = """\
import os, sys, time
print("visible=" + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"), flush=True)
while not os.path.exists("/tmp/release-" + os.environ["TRAINYARD_RUN_ID"]):
    time.sleep(0.05)
"""


def _log(eng: Engine, name: str) -> str:
    path = RunFiles(Path(eng.get_run(name).run_dir)).driver_log
    return path.read_text() if path.exists() else ""


def _until(check: Any, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _visible(eng: Engine, name: str) -> set[int]:
    _until(lambda: "visible=" in _log(eng, name), f"{name} to print its GPUs")
    line = next(ln for ln in _log(eng, name).splitlines() if ln.startswith("visible="))
    return {int(i) for i in line.removeprefix("visible=").split(",")}


def test_the_gpus_of_an_ssh_host_and_what_test_connection_reports(
    gpu_box: Host, keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    target = SshTarget.from_config(
        "gpu-box",
        {
            "host": "127.0.0.1",
            "port": gpu_box.port,
            "user": "root",
            "key_file": str(keys / "client_ed25519"),
            "known_hosts": str(keys / "known_hosts"),
            "work_dir": WORK_DIR,
        },
    )
    inventory = ssh_gpus(target)
    assert [(g.index, g.name) for g in inventory.gpus] == [
        (0, "NVIDIA A100-SXM4-80GB"),
        (1, "NVIDIA A100-SXM4-80GB"),
        (2, "NVIDIA GeForce RTX 3090"),
        (3, "Tesla K80"),
    ]
    assert host_key(target).known
    report = probe_host(target)
    assert report.python.startswith("Python 3.") and report.python.endswith("(/usr/bin/python3)")
    assert report.gpus == inventory
    assert report.docker == "not installed"  # the image has no Docker
    assert report.free_disk.endswith(" GiB free in /tmp") and float(report.free_disk.split()[0]) > 0


def test_runs_on_an_ssh_host_get_disjoint_gpus_and_a_third_waits(
    eng: Engine,
    gpu_box: Host,
    keys: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAINYARD_GPU_LEASES", str(tmp_path / "leases"))
    _gpu_target(eng, gpu_box, keys)
    code = tmp_path / "proj"
    code.mkdir()
    (code / "hold.py").write_text(HOLD)

    def submit() -> str:
        return eng.submit(
            JobSpec(experiment_name="gpus", code_dir=code, script="hold.py", compute="gpu-box", gpus=2)
        ).name

    a, b = submit(), submit()
    ga, gb = _visible(eng, a), _visible(eng, b)
    assert len(ga) == len(gb) == 2 and ga.isdisjoint(gb)
    assert (
        f"of 127.0.0.1 (compute target gpu-box) (CUDA_VISIBLE_DEVICES={','.join(map(str, sorted(ga)))})"
        in _log(eng, a)
    )
    c = submit()
    _until(
        lambda: (
            "queued: waiting for 2 GPUs on 127.0.0.1 (compute target gpu-box); 0 of 4 free" in _log(eng, c)
        ),
        "the third run to wait",
    )
    assert eng.get_run(c).status == "Queued"

    # `trainyard compute show` asks the host and says which run holds which GPU.
    import sys

    shown = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "compute", "show", "-n", "gpu-box", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert {g["index"]: g["used_by"] for g in doc["gpus_here"]["gpus"]} == {
        **dict.fromkeys(ga, a),
        **dict.fromkeys(gb, b),
    }
    assert doc["gpus_here"]["runs_waiting"] == [c]

    gpu_box.container.exec_run(["touch", f"/tmp/release-{a}"])
    assert eng.wait(a, timeout=90).status == "Completed"
    assert _visible(eng, c) == ga  # the GPUs the first run gave back
    for name in (b, c):
        gpu_box.container.exec_run(["touch", f"/tmp/release-{name}"])
    assert all(eng.wait(n, timeout=90).status == "Completed" for n in (b, c))


@pytest.fixture(scope="module")
def jump_and_target(docker_client: Any, sshd_image: str, keys: Path) -> Iterator[tuple[Host, Host]]:
    jump = _start(docker_client, sshd_image, keys / "client_ed25519", "127.0.0.1", level="DEBUG1")
    try:
        target = _start(docker_client, sshd_image, keys / "client_ed25519", "127.0.0.2")
        try:
            yield jump, target
        finally:
            target.container.remove(force=True)
    finally:
        jump.container.remove(force=True)


def _forwards(jump: Host) -> list[str]:
    """What the jump host's sshd forwarded (its debug log's direct-tcpip requests)."""
    logs = jump.container.logs().decode(errors="replace")
    return [
        ln.split("target ", 1)[1].strip()
        for ln in logs.splitlines()
        if "server_request_direct_tcpip" in ln and "target " in ln
    ]


def test_a_job_reaches_its_host_through_a_proxyjump_chain(
    eng: Engine,
    jump_and_target: tuple[Host, Host],
    keys: Path,
    tmp_path: Path,
) -> None:
    jump, far = jump_and_target
    key = keys / "client_ed25519"
    known = tmp_path / "known_hosts"
    known.write_text(_known(jump) + _known(far))
    (Path.home() / ".ssh" / "config").write_text(f"""\
Host jump
    HostName 127.0.0.1
    Port {jump.port}
    User root
    IdentityFile {key}

Host far-gpu
    HostName 127.0.0.2
    Port {far.port}
    User root
    IdentityFile {key}
    ProxyJump jump

Host 127.0.0.1
    IdentityFile {key}

Host far-gpu-chained
    HostName 127.0.0.2
    Port {far.port}
    User root
    IdentityFile {key}
    ProxyJump jump,root@127.0.0.1:{jump.port}
""")
    before = len(_forwards(jump))
    eng.store.add_compute_target(
        "far", "ssh", {"host": "far-gpu", "known_hosts": str(known), "work_dir": WORK_DIR}
    )
    code = tmp_path / "proj"
    code.mkdir()
    (code / "where.py").write_text("import platform\nprint('ran on', platform.node(), flush=True)\n")
    run = eng.wait(
        eng.submit(JobSpec(experiment_name="jump", code_dir=code, script="where.py", compute="far")).name,
        timeout=90,
    )
    log = RunFiles(Path(run.run_dir)).driver_log.read_text()
    assert run.status == "Completed", (run.error, log)
    assert f"ran on {far.hostname}" in log
    assert run.properties["ssh_host"] == f"root@127.0.0.2:{far.port}"
    # Every connection the run made went through the jump host.
    forwarded = _forwards(jump)[before:]
    assert forwarded and set(forwarded) == {f"127.0.0.2 port {far.port}"}, forwarded

    # A chain: the second hop (the jump host again, reached through itself) forwards to the target.
    before = len(_forwards(jump))
    chained = SshTarget.from_config("chained", {"host": "far-gpu-chained", "known_hosts": str(known)})
    assert probe_host(chained).python.startswith("Python 3.")
    forwarded = _forwards(jump)[before:]
    assert forwarded[:2] == [f"127.0.0.1 port {jump.port}", f"127.0.0.2 port {far.port}"], forwarded


def test_a_jump_host_that_cannot_forward_fails_the_run_saying_so(
    eng: Engine,
    jump_and_target: tuple[Host, Host],
    keys: Path,
    tmp_path: Path,
) -> None:
    jump, _far = jump_and_target
    key = keys / "client_ed25519"
    known = tmp_path / "known_hosts"
    known.write_text(_known(jump))
    closed = _free_port("127.0.0.2")  # nothing listens there
    (Path.home() / ".ssh" / "config").write_text(f"""\
Host nowhere
    HostName 127.0.0.2
    Port {closed}
    User root
    IdentityFile {key}
    ProxyJump root@127.0.0.1:{jump.port}

Host 127.0.0.1
    IdentityFile {key}
""")
    eng.store.add_compute_target("nowhere", "ssh", {"host": "nowhere", "known_hosts": str(known)})
    code = tmp_path / "proj"
    code.mkdir()
    (code / "x.py").write_text("print('never')\n")
    run = eng.wait(
        eng.submit(JobSpec(experiment_name="jump", code_dir=code, script="x.py", compute="nowhere")).name,
        timeout=90,
    )
    assert run.status == "Failed"
    assert f"the jump host root@127.0.0.1:{jump.port} could not open a connection to 127.0.0.2:{closed}" in (
        run.error or ""
    ), run.error
