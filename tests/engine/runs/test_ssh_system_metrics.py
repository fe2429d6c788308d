"""System metrics of a run on an SSH target: sampled on the host from /proc by the stdlib sampler
the upload ships with the in-run client, pulled back by byte offset, stored as system/... metrics.
Against the real throwaway sshd of tests/engine/runs/sshd.py; and the sampler's /proc reading on
a made-up /proc folder."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time
from pathlib import Path
from types import ModuleType

import psutil
import test_ssh_compute
from test_local_runs import wait_status

from engine.api import Engine
from engine.compute.ssh.container import visible_in_container
from engine.compute.sysmon import parse_remote_line
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.runs.sysmetrics import PulledSystemMetrics
from engine.runtime import INJECT_DIR

# The SSH fixtures (a throwaway sshd, a target registered on it), shared with test_ssh_compute.
sshd = test_ssh_compute.sshd
target = test_ssh_compute.target

# Burns a core and holds 80 MiB (touched, so resident) for a few seconds, in a child process too.
BUSY = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time\\nend = time.time() + 3\\nwhile time.time() < end: pass"])
x = bytearray(80 * 1024 * 1024)
end = time.time() + 4
while time.time() < end:
    pass
child.wait()
"""


def test_an_ssh_run_gets_system_metrics_sampled_on_its_host(eng: Engine, project, target, cli) -> None:  # type: ignore[no-untyped-def]
    target()
    code = project({"train.py": BUSY})
    run = eng.submit(JobSpec(experiment_name="sys", code_dir=code, script="train.py", compute="far",
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"}))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Completed", final.error
    cpu = eng.metric_history(run.name, "system/cpu_percent")
    # Every line the host's sampler wrote is stored once, at the sampler's own step.
    pulled = (RunFiles(Path(final.run_dir)).root / "system-metrics.jsonl").read_bytes().splitlines()
    assert len(cpu.values) == len(pulled) >= 4
    assert cpu.steps.tolist() == list(range(len(pulled)))
    assert cpu.values.max() > 5  # busy loops (an idle script reads ~0; the machine may be loaded)
    rss = eng.metric_history(run.name, "system/memory_rss_mib")
    assert rss.steps.tolist() == cpu.steps.tolist()
    assert rss.values.max() > 80
    assert len(eng.metric_history(run.name, "system/network_recv_mib").values) == len(pulled)
    # A supervisor that took the run over would go on from the stored cursor: nothing again.
    assert PulledSystemMetrics(eng.store, run.name, Path(final.run_dir) / "system-metrics.jsonl").poll() == 0
    res = cli("job", "metrics", "-n", run.name, "-o", "json")
    assert res.returncode == 0, res.stderr
    assert "system/cpu_percent" in json.dumps(json.loads(res.stdout))


def test_a_replaced_supervisor_stores_each_host_sample_once(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                           ws_dir: Path) -> None:
    work = target()
    code = project({"train.py": "import time\nx = bytearray(20 << 20)\ntime.sleep(8)\n"})
    run = eng.submit(JobSpec(experiment_name="sys", code_dir=code, script="train.py", compute="far",
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"}))
    wait_status(eng, run.name, {"Running"}, timeout=60)
    deadline = time.monotonic() + 60
    while eng.metric_history(run.name, "system/memory_rss_mib").values.size < 2:  # some are stored
        assert time.monotonic() < deadline, "no system metrics arrived"
        time.sleep(0.05)
    first = eng.get_run(run.name).supervisor_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    try:
        psutil.Process(first).wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    remote = work / run.name / "system-metrics.jsonl"
    size, deadline = remote.stat().st_size, time.monotonic() + 30
    while remote.stat().st_size == size:  # the host goes on sampling, unobserved
        assert time.monotonic() < deadline, "the host's sampler stopped with the supervisor"
        time.sleep(0.05)
    again = Engine.open(ws_dir)  # Trainyard starts again: a new supervisor takes the run over
    try:
        final = again.wait(run.name, timeout=120)
        assert final.status == "Completed", final.error
        pulled = (Path(final.run_dir) / "system-metrics.jsonl").read_bytes().splitlines()
        rss = again.metric_history(run.name, "system/memory_rss_mib")
        assert rss.steps.tolist() == list(range(len(pulled))) and len(pulled) >= 8
        assert rss.values.max() > 20
    finally:
        again.close()


def test_sampling_off_starts_no_sampler_on_the_host(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target()
    code = project({"train.py": "print('hi')\n"})
    run = eng.submit(JobSpec(experiment_name="sys", code_dir=code, script="train.py", compute="far",
                             environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0"}))
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Completed", final.error
    assert not (Path(final.run_dir) / "system-metrics.jsonl").exists()
    assert len(eng.metric_history(run.name, "system/cpu_percent").values) == 0


def _sampler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trainyard_sysmon", INJECT_DIR / "trainyard_run" / "sysmon.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _proc(root: Path, pid: int, ppid: int, ticks: int, rss_kb: int, io: tuple[int, int],
          name: str = "python3") -> None:
    d = root / str(pid)
    d.mkdir(parents=True, exist_ok=True)
    # proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itrealvalue starttime ...
    rest = [0] * 9 + [ticks // 2, ticks - ticks // 2, 0, 0, 20, 0, 1, 0, 1000 + pid, 0]
    (d / "stat").write_text(f"{pid} ({name}) S {ppid} " + " ".join(map(str, rest)) + "\n")
    (d / "status").write_text(f"Name:\t{name}\nVmRSS:\t{rss_kb} kB\nThreads:\t1\n")
    (d / "io").write_text(f"rchar: 1\nwchar: 1\nread_bytes: {io[0]}\nwrite_bytes: {io[1]}\n")


def _net(root: Path, recv: int, sent: int) -> None:
    (root / "net").mkdir(parents=True, exist_ok=True)
    head = "Inter-|   Receive |  Transmit\n face |bytes packets ...|bytes packets ...\n"
    lines = [f"  {n}: {recv} 1 0 0 0 0 0 0 {sent} 1 0 0 0 0 0 0" for n in ("lo", "eth0")]
    (root / "net" / "dev").write_text(head + "\n".join(lines) + "\n")


def test_the_host_sampler_reads_the_script_tree_from_proc(tmp_path: Path) -> None:
    sysmon = _sampler()
    proc = tmp_path / "proc"
    MIB = 1024 * 1024
    _net(proc, recv=1000, sent=500)
    _proc(proc, 1, 0, 999, 4096, (0, 0), "init")  # not of the tree
    _proc(proc, 100, 1, 10, 1024, (0, 0), "sh")  # the run's shell: the root
    _proc(proc, 101, 100, 100, 100 * 1024, (MIB, 2 * MIB), "my (odd) trainer")
    _proc(proc, 102, 101, 50, 50 * 1024, (MIB, 0), "worker")
    _proc(proc, 150, 100, 5, 9999, (7, 7), "sysmon")  # the sampler itself: left out
    sampler = sysmon.ProcSampler(100, proc=str(proc), exclude=150, hz=100.0)
    first = sampler.sample(now=10.0)
    assert "cpu_percent" not in first  # it primes the counters
    assert first["memory_rss_mib"] == 1 + 100 + 50
    # One second later: the trainer used 100 ticks (one core), the worker ended after 2 MiB of
    # reads in all, a new child started with 30 ticks; the network grew on both interfaces.
    _proc(proc, 101, 100, 200, 200 * 1024, (3 * MIB, 2 * MIB), "my (odd) trainer")
    (proc / "102" / "io").write_text(f"read_bytes: {2 * MIB}\nwrite_bytes: 0\n")
    sampler.sample(now=10.5)
    for f in (proc / "102").iterdir():
        f.unlink()
    (proc / "102").rmdir()
    _proc(proc, 103, 101, 30, 10 * 1024, (0, MIB), "new")
    _proc(proc, 150, 100, 500, 9999, (7, 7), "sysmon")
    _net(proc, recv=1000 + MIB, sent=500 + 2 * MIB)
    got = sampler.sample(now=11.5)
    assert got["cpu_percent"] == 30.0  # 1 s after the last sample: only the new child's 30 ticks
    assert got["memory_rss_mib"] == 1 + 200 + 10
    assert got["disk_read_mib"] == 3 + 2  # the ended worker's reads still count
    assert got["disk_write_mib"] == 2 + 1
    assert got["network_recv_mib"] == 2.0 and got["network_sent_mib"] == 4.0  # lo and eth0
    assert sysmon.parse_stat((proc / "101" / "stat").read_text())[0] == 100


def test_the_host_sampler_also_reads_a_container_tree_that_is_not_the_root_s_child(tmp_path: Path) -> None:
    """`docker run` in the run's shell starts nothing of the script's: the container's first
    process is the child of the daemon's shim. Given as another root, its tree counts too."""
    sysmon = _sampler()
    proc = tmp_path / "proc"
    _proc(proc, 100, 1, 10, 1024, (0, 0), "sh")  # the run's shell
    _proc(proc, 101, 100, 10, 30 * 1024, (0, 0), "docker")  # the docker CLI, waiting
    _proc(proc, 190, 1, 10, 2048, (0, 0), "containerd-shim")  # not of either tree
    _proc(proc, 200, 190, 10, 100 * 1024, (0, 0), "python3")  # the container's script
    _proc(proc, 201, 200, 10, 50 * 1024, (0, 0), "worker")
    sampler = sysmon.ProcSampler(100, proc=str(proc), hz=100.0)
    assert sampler.sample(now=1.0)["memory_rss_mib"] == 1 + 30
    sampler.more_roots.append(200)
    assert sampler.sample(now=2.0)["memory_rss_mib"] == 1 + 30 + 100 + 50


def test_the_gpus_a_container_sees_are_its_device_request() -> None:
    assert visible_in_container(None) == ""  # no request: a container sees no GPU
    assert visible_in_container("0") == ""
    assert visible_in_container(2) == "0,1"
    assert visible_in_container('"device=1,3"') == "1,3"
    assert visible_in_container("all") is None


def test_a_host_sample_line_with_recorded_nvidia_smi_output_gives_the_run_gpus() -> None:
    recorded = (Path(__file__).resolve().parents[1] / "fixtures" / "nvidia_smi_query_gpu.csv").read_text()
    line = json.dumps({"step": 3, "time": 5.0, "values": {"cpu_percent": 12.5},
                       "nvidia_smi": recorded, "cuda_visible_devices": "0"}).encode()
    parsed = parse_remote_line(line)
    assert parsed is not None
    step, at, values = parsed
    assert (step, at, values["system/cpu_percent"]) == (3, 5.0, 12.5)
    assert values["system/gpu0/utilization_percent"] == 35.0
    assert not any(k.startswith("system/gpu1/") for k in values)  # not a GPU the run sees
    assert parse_remote_line(b'{"step": 4, "ti') is None
    # Node 1 of a distributed run over several hosts: its host's samples, GPUs too, by node.
    parsed = parse_remote_line(line, node=1)
    assert parsed is not None
    assert parsed[2]["system/node1/cpu_percent"] == 12.5
    assert parsed[2]["system/node1/gpu0/utilization_percent"] == 35.0


def test_the_host_sampler_finds_the_node_s_other_processes_from_their_pid_files(tmp_path: Path) -> None:
    """A distributed run's other processes on the node are started by their own shells: each
    writes its pid to a file as it starts; the node's sampler adds a tree once its file holds one."""
    sysmon = _sampler()
    seen: set[str] = set()
    assert sysmon.pids_from([str(tmp_path / "r*" / "pgid")], seen) == []
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "pgid").write_text("")  # being written: read again next time
    assert sysmon.pids_from([str(tmp_path / "r*" / "pgid")], seen) == []
    (tmp_path / "r1" / "pgid").write_text("4242\n")
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "pgid").write_text("4343\n")
    assert sysmon.pids_from([str(tmp_path / "r*" / "pgid")], seen) == [4242, 4343]
    assert sysmon.pids_from([str(tmp_path / "r*" / "pgid")], seen) == []  # each once
