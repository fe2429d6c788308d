"""Device check (scripts/device_check.sh system_metrics): a real CUDA training job through the
engine, sampled every second by its supervisor; its system/gpu<i>/... metrics must show the GPU
busy (utilisation > 0) and holding memory (> 0 MiB), and the CPU/RSS metrics must be there.
Usage: python system_metrics.py TMP_DIR (the engine on PYTHONPATH)."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles

# A small CNN trained on random images on the first visible GPU for ~20 s.
CUDA_TRAIN = r"""
import time, torch
assert torch.cuda.is_available(), "torch sees no CUDA device"
dev = torch.device("cuda:0")
model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3, padding=1),
                            torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(256, 3, 64, 64, device=dev)
y = torch.randint(0, 10, (256,), device=dev)
end = time.time() + 20
steps = 0
while time.time() < end:
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    steps += 1
torch.cuda.synchronize()
print("DEVICE_CHECK_TRAIN_OK", steps, "steps", flush=True)
"""


def main(tmp: Path) -> int:
    code = tmp / "code"
    code.mkdir(parents=True)
    (code / "train.py").write_text(CUDA_TRAIN)
    eng = Engine.open(tmp / "ws")
    try:
        run = eng.submit(
            JobSpec(
                experiment_name="device-check",
                code_dir=code,
                script="train.py",
                environment_variables={"TRAINYARD_SYSTEM_METRICS_INTERVAL": "1"},
            )
        )
        final = eng.wait(run.name, timeout=300)
        log = RunFiles(Path(final.run_dir)).driver_log.read_text(errors="replace")
        if final.status != "Completed" or "DEVICE_CHECK_TRAIN_OK" not in log:
            print(
                f"system_metrics: the CUDA job ended {final.status}: {final.error}\n{log[-3000:]}",
                file=sys.stderr,
            )
            return 1
        keys = sorted(eng.latest_metrics(run.name))
        gpu_keys = [k for k in keys if k.startswith("system/gpu")]
        print("system metrics:", [k for k in keys if k.startswith("system/")])
        failures = []
        for suffix in ("utilization_percent", "memory_used_mib"):
            found = [k for k in gpu_keys if k.endswith(suffix)]
            peaks = {k: float(eng.metric_history(run.name, k).values.max()) for k in found}
            print(f"peak {suffix}: {peaks}")
            if not peaks or max(peaks.values()) <= 0:
                failures.append(f"no GPU {suffix} above 0 ({peaks or 'no such metric'})")
        for key in ("system/cpu_percent", "system/memory_rss_mib"):
            if key not in keys or float(eng.metric_history(run.name, key).values.max()) <= 0:
                failures.append(f"{key} missing or zero")
        if failures:
            print("system_metrics: FAILED: " + "; ".join(failures), file=sys.stderr)
            return 1
        print("system_metrics: OK")
        return 0
    finally:
        eng.close()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
