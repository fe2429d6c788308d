"""System metrics: the sampler on real processes and recorded nvidia-smi output, and a real local
run whose supervisor stores them as system/... metrics that `trainyard job metrics` lists."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from engine.api import Engine
from engine.compute.gpus import GpuInventory, parse_nvidia_smi
from engine.jobs.spec import JobSpec
from engine.runs.sysmetrics import DEFAULT_INTERVAL, SystemSampler, sampling_interval, visible_gpus

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia_smi_query_gpu.csv"
BUSY = "import time\nend = time.time() + 30\nx = bytearray(80 * 1024 * 1024)\nwhile time.time() < end: pass\n"


def recorded() -> GpuInventory:
    return GpuInventory(tuple(parse_nvidia_smi(RECORDED.read_text())))


def test_gpu_metrics_from_recorded_nvidia_smi_for_the_gpus_the_run_sees() -> None:
    sampler = SystemSampler(None, visible_gpus({"CUDA_VISIBLE_DEVICES": "0,3"}), query_gpus=recorded)
    got = sampler.sample()
    assert got["system/gpu0/utilization_percent"] == 35.0
    assert got["system/gpu0/memory_used_mib"] == 1234.0
    assert abs(got["system/gpu0/memory_percent"] - 100 * 1234 / 81920) < 1e-9
    assert not any(k.startswith(("system/gpu1/", "system/gpu2/")) for k in got)  # not the run's GPUs
    assert not any(k.startswith("system/gpu3/") for k in got)  # a K80 that reports neither: left out
    assert "system/cpu_percent" not in got  # no process on this machine to sample
    # No CUDA_VISIBLE_DEVICES: every GPU of the machine.
    assert {"system/gpu1/utilization_percent", "system/gpu2/utilization_percent"} <= set(
        SystemSampler(None, visible_gpus({}), query_gpus=recorded).sample()
    )


def test_no_gpus_means_no_gpu_metrics_and_no_more_queries() -> None:
    asked = []

    def none() -> GpuInventory:
        asked.append(1)
        return GpuInventory((), "nvidia-smi not found")

    sampler = SystemSampler(None, None, query_gpus=none)
    for _ in range(3):
        assert not any("gpu" in k for k in sampler.sample())
    assert asked == [1]


def test_the_whole_process_tree_is_sampled() -> None:
    # A parent that only waits, and a child that burns a core and holds 80 MiB.
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY!r}])"]
    )
    try:
        sampler = SystemSampler(parent.pid, None, query_gpus=lambda: GpuInventory(()))
        time.sleep(1.0)
        sampler.sample()  # primes the CPU counters of the processes it found
        time.sleep(1.5)
        got = sampler.sample()
        # The child's busy loop: an idle tree reads ~0, a loaded CI machine still gives it some.
        assert got["system/cpu_percent"] > 5, got
        assert got["system/memory_rss_mib"] > 80, got
        assert "system/network_recv_mib" in got and "system/disk_read_mib" in got
    finally:
        parent.kill()
        parent.wait()


def test_the_interval_setting() -> None:
    assert sampling_interval({}, {}) == DEFAULT_INTERVAL
    assert sampling_interval({"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0"}, {}) == 0
    assert sampling_interval({}, {"TRAINYARD_SYSTEM_METRICS_INTERVAL": "2"}) == 2
    assert (
        sampling_interval(
            {"TRAINYARD_SYSTEM_METRICS_INTERVAL": "1"}, {"TRAINYARD_SYSTEM_METRICS_INTERVAL": "9"}
        )
        == 1
    )  # the job's wins
    assert sampling_interval({"TRAINYARD_SYSTEM_METRICS_INTERVAL": "soon"}, {}) == DEFAULT_INTERVAL


def test_a_local_run_gets_system_metrics(eng: Engine, project, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": BUSY.replace("30", "4")})
    run = eng.submit(
        JobSpec(
            experiment_name="sys",
            code_dir=code,
            script="train.py",
            environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "0.5"},
        )
    )
    final = eng.wait(run.name, timeout=120)
    assert final.status == "Completed", final.error
    cpu = eng.metric_history(run.name, "system/cpu_percent")
    assert len(cpu.values) >= 3 and cpu.steps.tolist() == list(range(len(cpu.values)))
    assert cpu.values.max() > 5  # a busy loop (an idle script reads ~0; the machine may be loaded)
    assert eng.metric_history(run.name, "system/memory_rss_mib").values.max() > 80
    res = cli("job", "metrics", "-n", run.name, "-o", "json")
    assert res.returncode == 0, res.stderr
    listed = json.dumps(json.loads(res.stdout))
    assert "system/cpu_percent" in listed and "system/memory_rss_mib" in listed
