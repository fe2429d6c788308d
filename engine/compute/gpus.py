"""The GPUs of this machine, as `nvidia-smi` reports them.

One query (`nvidia-smi --query-gpu=... --format=csv,noheader,nounits`) gives one CSV line per GPU:
index, name, total and used memory (MiB) and utilisation (%). Fields a GPU does not report come as
`[N/A]` or `[Not Supported]` and are read as None. No nvidia-smi, or one that fails (no driver
loaded), means no GPUs: that is an ordinary state of a laptop, not an error.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

QUERY_FIELDS = ("index", "name", "memory.total", "memory.used", "utilization.gpu")
QUERY = [f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader,nounits"]


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_total_mib: int | None
    memory_used_mib: int | None
    utilization_percent: int | None

    @property
    def summary(self) -> str:
        """'0: NVIDIA A100 (1.2 / 80.0 GiB, 35%)'."""
        parts = []
        if self.memory_total_mib is not None:
            used = f"{self.memory_used_mib / 1024:.1f} / " if self.memory_used_mib is not None else ""
            parts.append(f"{used}{self.memory_total_mib / 1024:.1f} GiB")
        if self.utilization_percent is not None:
            parts.append(f"{self.utilization_percent}%")
        return f"{self.index}: {self.name}" + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class GpuInventory:
    """What was found. `gpus` is empty when there are none; `note` says why in words
    ("nvidia-smi not found", the tool's error), empty when the query worked."""

    gpus: tuple[Gpu, ...]
    note: str = ""

    @property
    def summary(self) -> str:
        if self.gpus:
            return f"{len(self.gpus)} GPU" + ("" if len(self.gpus) == 1 else "s")
        return "none found" + (f" ({self.note})" if self.note else "")


def _number(text: str) -> int | None:
    text = text.strip()
    try:
        return int(float(text))
    except ValueError:  # [N/A], [Not Supported]
        return None


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """The GPUs in the output of the query above; lines that do not fit are skipped."""
    gpus = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < len(QUERY_FIELDS) or not fields[0].isdigit():
            continue
        # A name never holds a comma in practice, but keep the last three fields numeric if it does.
        name = ",".join(fields[1:-3]).strip()
        gpus.append(Gpu(int(fields[0]), name, _number(fields[-3]), _number(fields[-2]), _number(fields[-1])))
    return gpus


def local_gpus(timeout: float = 5.0, executable: str = "nvidia-smi") -> GpuInventory:
    """Ask nvidia-smi (bounded by `timeout` seconds: a hung driver must not hang the caller)."""
    exe = shutil.which(executable)
    if exe is None:
        return GpuInventory((), "nvidia-smi not found")
    try:
        res = subprocess.run([exe, *QUERY], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GpuInventory((), f"nvidia-smi did not answer: {exc}")
    return inventory_of(res.returncode, res.stdout, res.stderr)


def inventory_of(code: int, stdout: str, stderr: str) -> GpuInventory:
    """The inventory an nvidia-smi run (here or on another host) reported."""
    if code != 0:
        reason = (stdout + stderr).strip().splitlines()
        return GpuInventory((), reason[0] if reason else f"nvidia-smi exited with {code}")
    return GpuInventory(tuple(parse_nvidia_smi(stdout)))
