"""Device check (scripts/device_check.sh gpu_assignment): real CUDA jobs on GPUs as Trainyard assigns
them. Usage: python gpu_assignment.py TMP_DIR (the engine on PYTHONPATH, TRAINYARD_GPU_LEASES set)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles

# The job: what it was told, what CUDA shows it, and a matrix product on each of its devices.
CUDA_JOB = r"""
import os, subprocess, sys, time
import torch

visible = os.environ.get("CUDA_VISIBLE_DEVICES")
print("CUDA_VISIBLE_DEVICES=" + str(visible), "CUDA_DEVICE_ORDER=" + str(os.environ.get("CUDA_DEVICE_ORDER")),
      flush=True)
assert visible, "no CUDA_VISIBLE_DEVICES: the run was not assigned GPUs"
ids = [int(i) for i in visible.split(",")]
rows = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader"], capture_output=True,
                      text=True, check=True, env={k: v for k, v in os.environ.items()
                                                  if k != "CUDA_VISIBLE_DEVICES"}).stdout
uuid_of = {int(i): u.strip() for i, u in (line.split(",") for line in rows.strip().splitlines())}
count = torch.cuda.device_count()
seen = ["GPU-" + str(torch.cuda.get_device_properties(d).uuid) for d in range(count)]
expected = [uuid_of[i] for i in ids]
print("torch sees", count, "device(s):", seen, "; assigned:", expected, flush=True)
assert count == len(ids), f"torch sees {count} devices, the run was assigned {len(ids)}"
assert seen == expected, f"the devices torch sees are not the assigned ones: {seen} != {expected}"
for d in range(count):
    x = torch.randn(2048, 2048, device=f"cuda:{d}")
    value = (x @ x).float().abs().mean().item()
    torch.cuda.synchronize(d)
    print(f"cuda:{d} ({torch.cuda.get_device_name(d)}) matmul ok: {value:.3f}", flush=True)
hold = sys.argv[1] if len(sys.argv) > 1 else ""
deadline = time.time() + 120
while hold and not os.path.exists(hold) and time.time() < deadline:
    time.sleep(0.1)
print("DEVICE_CHECK_JOB_OK", flush=True)
"""


def log_of(eng: Engine, name: str) -> str:
    path = RunFiles(Path(eng.get_run(name).run_dir)).driver_log
    return path.read_text(errors="replace") if path.exists() else ""


def until(check, what: str, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gpu_assignment: timed out waiting for {what}")
        time.sleep(0.2)


def main(tmp: Path) -> int:
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    n = len([ln for ln in listed.splitlines() if ln.startswith("GPU ")])
    want = min(2, n)
    print(
        f"gpu_assignment: {n} GPU(s) here; the first run asks for {want}, the second for all {n}", flush=True
    )
    code = tmp / "proj"
    code.mkdir(parents=True)
    (code / "cuda_job.py").write_text(CUDA_JOB)
    gate = tmp / "release-first"
    eng = Engine.open(tmp / "ws")
    try:
        first = eng.submit(
            JobSpec(
                experiment_name="device-check",
                code_dir=code,
                script="cuda_job.py",
                arguments=(str(gate),),
                gpus=want,
            )
        ).name
        until(
            lambda: "matmul ok" in log_of(eng, first) or eng.get_run(first).is_terminal,
            "the first run's CUDA work",
        )
        second = eng.submit(
            JobSpec(experiment_name="device-check", code_dir=code, script="cuda_job.py", gpus=n)
        ).name
        until(
            lambda: "queued: waiting for" in log_of(eng, second) or eng.get_run(second).is_terminal,
            "the second run to wait for GPUs",
        )
        queued = eng.get_run(second).status
        gate.touch()
        runs = [eng.wait(name, timeout=300) for name in (first, second)]
        ok = True
        for run in runs:
            log = log_of(eng, run.name)
            print(
                f"--- {run.name}: {run.status} (gpus_assigned={run.properties.get('gpus_assigned')})\n{log}",
                flush=True,
            )
            ok = ok and run.status == "Completed" and "DEVICE_CHECK_JOB_OK" in log
        if queued != "Queued":
            print(
                f"gpu_assignment: the second run was {queued} while the first held GPUs, not Queued",
                flush=True,
            )
            ok = False
        if runs[0].start_time is None or runs[1].start_time is None or runs[1].start_time < runs[0].end_time:
            print("gpu_assignment: the second run started before the first gave its GPUs back", flush=True)
            ok = False
        print("gpu_assignment:", "passed" if ok else "FAILED", flush=True)
        return 0 if ok else 1
    finally:
        eng.close()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
