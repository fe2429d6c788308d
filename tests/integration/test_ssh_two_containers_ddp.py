"""A distributed pytorch run across TWO SSH hosts that are two real remotes: two sshd containers
(the image of test_ssh_container_remote.py, each its own filesystem), on different ports of the
shared network (--network host: the daemon has no bridge), reached through ~/.ssh/config aliases
`node0` and `node1`. Node n runs on hosts[n]; rank 0's host is MASTER_ADDR; a real gloo all-reduce
goes between the containers.

The containers have no torch of their own: this test's interpreter (its venv and the Python it was
made from) is mounted read-only at the same paths in both, and the job names it as its
`interpreter_path`, as one would name a host's own Python.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_ssh_container_remote as ctr

from engine.api import Engine
from engine.errors import InvalidState
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.runtime.distribution import make_distribution

sshd_image = ctr.sshd_image  # the remote's image (built once, kept)
NODE_FILE = "/etc/trainyard-node"

ALLREDUCE = """
import os, torch, torch.distributed as dist
from azureml.core import Run
dist.init_process_group("gloo")
rank = dist.get_rank()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
node = open("/etc/trainyard-node").read().strip()
print("rank", rank, "of", dist.get_world_size(), "in", node, "node_rank", os.environ["NODE_RANK"],
      "master", os.environ["MASTER_ADDR"], "sum", t.item(), flush=True)
Run.get_context().log(f"sum_{rank}", t.item())
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_sshd(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if s.recv(4) == b"SSH-":
                return
        time.sleep(0.1)
    raise AssertionError(f"no sshd answered on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def nodes(
    docker_client: Any, sshd_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Two sshd containers with this interpreter mounted; yields their ports, key and known_hosts."""
    keys = tmp_path_factory.mktemp("ssh-ddp")
    key = keys / "client_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    volumes = {str(key) + ".pub": {"bind": "/authorized_keys", "mode": "ro"}}
    for folder in {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}:
        volumes[str(folder)] = {"bind": str(folder), "mode": "ro"}
    containers, ports, known = [], [], []
    try:
        for n in range(2):
            port = _free_port()
            c = docker_client.containers.run(
                sshd_image,
                detach=True,
                name=f"ty-node{n}-{uuid.uuid4().hex[:6]}-{port}",
                network_mode="host",
                environment={"SSH_PORT": str(port)},
                labels={"trainyard.test": "ssh-ddp"},
                volumes=volumes,
            )
            containers.append(c)
            _wait_for_sshd(port)
            code, out = c.exec_run(
                ["sh", "-c", f"echo node{n}-container > {NODE_FILE} && cat /etc/ssh/ssh_host_ed25519_key.pub"]
            )
            assert code == 0, out
            kind, body = out.decode().split()[:2]
            known.append(f"[127.0.0.1]:{port} {kind} {body}\n")
            ports.append(port)
        (keys / "known_hosts").write_text("".join(known))
        yield {"ports": ports, "key": key, "known_hosts": keys / "known_hosts", "containers": containers}
    finally:
        for c in containers:
            c.remove(force=True)


@pytest.fixture
def eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nodes: dict[str, Any]) -> Iterator[Engine]:
    home = tmp_path / "home"  # the supervisor reads ~/.ssh/config: the two aliases
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "".join(
            f"Host node{n}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
            for n, port in enumerate(nodes["ports"])
        )
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TRAINYARD_WORKSPACE", str(tmp_path / "ws"))
    e = Engine.open(tmp_path / "ws")
    yield e
    for run in e.list_runs():
        if not run.is_terminal:
            with contextlib.suppress(InvalidState):
                e.cancel(run.name)
            e.wait(run.name, timeout=30)
    e.close()


def test_a_two_node_gloo_all_reduce_across_two_ssh_containers(
    eng: Engine, nodes: dict[str, Any], tmp_path: Path
) -> None:
    eng.store.add_compute_target(
        "pair",
        "ssh",
        {
            "host": "node0",
            "hosts": ["node0", "node1"],
            "key_file": str(nodes["key"]),
            "known_hosts": str(nodes["known_hosts"]),
            "work_dir": "/tmp/trainyard-runs",
        },
    )
    code = tmp_path / "proj"
    code.mkdir()
    (code / "ar.py").write_text(ALLREDUCE)
    run = eng.submit(
        JobSpec(
            experiment_name="exp",
            code_dir=code,
            script="ar.py",
            compute="pair",
            interpreter_path=str(Path(sys.prefix) / "bin" / "python"),
            distribution=make_distribution("pytorch", 1, 2),
            environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"},
        )
    )
    final = eng.wait(run.name, timeout=300)
    files = RunFiles(Path(final.run_dir))
    logs = {r: files.system_logs / f"70_driver_log_{r}.txt" for r in (0, 1)}
    texts = {r: p.read_text() if p.exists() else "" for r, p in logs.items()}
    assert final.status == "Completed", (final.error, texts)
    for rank in (0, 1):
        # Each rank in its own container (node n on hosts[n]), both summing over the other's tensor.
        assert (
            f"rank {rank} of 2 in node{rank}-container node_rank {rank} master 127.0.0.1 sum 3.0"
            in texts[rank]
        )
        assert eng.metric_history(run.name, f"sum_{rank}").values.tolist() == [3.0]
        # Each node's host sampled on its own (its own /proc, in its container): torch is resident.
        assert eng.metric_history(run.name, f"system/node{rank}/memory_rss_mib").values.max() > 50
    for c in nodes["containers"]:  # each rank's folder was made in its container, and removed after
        rc, listing = c.exec_run(["ls", "-A", "/tmp/trainyard-runs"])
        assert rc == 0 and listing.decode().split() == [], listing
