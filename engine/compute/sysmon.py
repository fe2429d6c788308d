"""What local and remote system-metrics sampling share: the interval, the GPUs a run sees, and
GPU metric names; and, for a script on another host (SSH), the sampler started there beside it
(engine/tracking/inject/trainyard_run/sysmon.py, uploaded with the in-run client) and the reading
of the JSON lines it appends (see engine.runs.sysmetrics for the metric names)."""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.compute.gpus import QUERY, Gpu, parse_nvidia_smi
from engine.tracking.inject.trainyard_run.envvars import ENV_SYSTEM_METRICS_INTERVAL

DEFAULT_INTERVAL = 5.0
PREFIX = "system/"
REMOTE_FILE = "system-metrics.jsonl"  # in the remote run folder, pulled to the local one by offset
SAMPLER = "inject/trainyard_run/sysmon.py"  # where the upload puts the sampler, under REMOTE


def sampling_interval(job_env: Mapping[str, str], own_env: Mapping[str, str] = os.environ) -> float:
    """Seconds between samples (0: off). A value that is not a number falls back to the default."""
    text = job_env.get(ENV_SYSTEM_METRICS_INTERVAL) or own_env.get(ENV_SYSTEM_METRICS_INTERVAL)
    if not text:
        return DEFAULT_INTERVAL
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_INTERVAL
    return 0.0 if math.isnan(value) or value <= 0 else max(value, 0.5)


def visible_gpus(job_env: Mapping[str, str | None]) -> set[int] | None:
    """The GPU indices a run sees (``CUDA_VISIBLE_DEVICES`` as numbers), None for all of them."""
    text = job_env.get("CUDA_VISIBLE_DEVICES")
    if text is None:
        return None
    return {int(p) for p in text.split(",") if p.strip().isdigit()}


def node_prefix(node: int | None) -> str:
    """Where the metrics of a host's sampler are named: system/..., or system/node<k>/... for
    node k of a distributed run over several hosts (each host is sampled on its own)."""
    return PREFIX if node is None else f"{PREFIX}node{node}/"


def gpu_metrics(gpus: Iterable[Gpu], visible: set[int] | None, prefix: str = PREFIX) -> dict[str, float]:
    """<prefix>gpu<i>/... of the GPUs in `visible` (None: all) that report them."""
    out: dict[str, float] = {}
    for gpu in gpus:
        if visible is not None and gpu.index not in visible:
            continue
        key = f"{prefix}gpu{gpu.index}/"
        if gpu.utilization_percent is not None:
            out[key + "utilization_percent"] = float(gpu.utilization_percent)
        if gpu.memory_used_mib is not None:
            out[key + "memory_used_mib"] = float(gpu.memory_used_mib)
            if gpu.memory_total_mib:
                out[key + "memory_percent"] = 100.0 * gpu.memory_used_mib / gpu.memory_total_mib
    return out


def remote_sampler_command(
    python: str,
    remote: str,
    interval: float,
    containers: Sequence[str] = (),
    gpus_seen: str | None = None,
    roots_from: Sequence[str] = (),
) -> str:
    """The shell command (for the run's own `sh`, whose $$ is the script's parent) that starts the
    sampler in the background; its pid is then in $sysmon. `containers`: the script runs in the
    first of these Docker containers (the others: the node's other processes), sampled too; `gpus_seen`: the host GPUs it sees (CSV), where the shell's
    CUDA_VISIBLE_DEVICES does not say (a container's device request); `roots_from`: files (globs)
    with the pids of more trees to sample, once they are written (the node's other processes)."""
    options = [f"--container={name}" for name in containers]
    if gpus_seen is not None:
        options.append(f"--visible-gpus={gpus_seen}")
    options += [f"--roots-from={pattern}" for pattern in roots_from]
    argv = [python, "-I", f"{remote}/{SAMPLER}", *options, "$$", repr(interval), f"{remote}/{REMOTE_FILE}", *QUERY]
    quoted = " ".join("$$" if a == "$$" else shlex.quote(a) for a in argv)
    log = shlex.quote(f"{remote}/system-metrics.log")
    return f"{quoted} < /dev/null > /dev/null 2> {log} & sysmon=$!"


def slurm_node_sampler_command(python: str, remote: str, ranks: str, interval: float) -> str:
    """The shell words, for a Slurm task's own `sh` before it execs the script, that start one
    sampler per node of a distributed job: task 0 of each node ($SLURM_LOCALID) samples its own
    tree ($$, the script once exec'd) and the node's other tasks', whose pids each task writes to
    RANKS/pid.<node>.<task> first (tasks are slurmstepd's children, not the batch script's).
    The node's lines go to RANKS/system-metrics-node<node>.jsonl (slurm_node_file)."""
    q = shlex.quote
    pids = _double_quoted(f"{ranks}/pid.") + "$SLURM_NODEID"
    out = _double_quoted(f"{ranks}/") + '"' + slurm_node_file("$SLURM_NODEID") + '"'
    log = _double_quoted(f"{ranks}/system-metrics-node") + '"$SLURM_NODEID.log"'
    argv = [
        q(python), "-I", q(f"{remote}/{SAMPLER}"), f'--roots-from={pids}".*"', "$$",
        q(repr(interval)), out, *map(q, QUERY),
    ]
    return (
        f'echo $$ > {pids}."$SLURM_PROCID"; if [ "$SLURM_LOCALID" = 0 ]; then '
        f"{' '.join(argv)} < /dev/null > /dev/null 2> {log} & fi"
    )


def _double_quoted(text: str) -> str:
    """`text` as one double-quoted shell word (so that a variable can follow it)."""
    return '"' + "".join("\\" + c if c in '\\"$`' else c for c in text) + '"'


def slurm_node_file(node: int | str) -> str:
    """The name of node `node`'s sampler file in a distributed Slurm job's ranks folder."""
    return f"system-metrics-node{node}.jsonl"


def parse_remote_line(line: bytes, node: int | None = None) -> tuple[int, float, dict[str, float]] | None:
    """(step, time, metrics named system/..., or system/node<k>/... of node `node`) of one line
    the remote sampler wrote; None when it does not read as one."""
    prefix = node_prefix(node)
    try:
        record: Any = json.loads(line)
        step, at = int(record["step"]), float(record["time"])
        values = {prefix + str(k): float(v) for k, v in dict(record.get("values") or {}).items()}
    except (ValueError, TypeError, KeyError):
        return None
    smi = record.get("nvidia_smi")
    if isinstance(smi, str):
        cvd = record.get("cuda_visible_devices")
        values.update(gpu_metrics(parse_nvidia_smi(smi), visible_gpus({"CUDA_VISIBLE_DEVICES": cvd}), prefix))
    return step, at, values


__all__ = [
    "DEFAULT_INTERVAL",
    "PREFIX",
    "REMOTE_FILE",
    "SAMPLER",
    "gpu_metrics",
    "node_prefix",
    "parse_remote_line",
    "remote_sampler_command",
    "sampling_interval",
    "slurm_node_file",
    "slurm_node_sampler_command",
    "visible_gpus",
]
