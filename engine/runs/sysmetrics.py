"""System metrics of a run, sampled by its supervisor every few seconds and stored as metrics
named ``system/...`` (so ``trainyard job metrics``, the Metrics tab and Compare list them):

- ``system/cpu_percent``: CPU of the script's whole process tree (100 = one core busy);
- ``system/memory_rss_mib``: resident memory of the tree;
- ``system/disk_read_mib``, ``system/disk_write_mib``: the tree's disk I/O since the run started;
- ``system/network_sent_mib``, ``system/network_recv_mib``: this machine's network I/O since the
  run started (the kernel does not count it per process);
- ``system/gpu<i>/utilization_percent``, ``system/gpu<i>/memory_used_mib``,
  ``system/gpu<i>/memory_percent``: each GPU the run uses (its ``CUDA_VISIBLE_DEVICES``, else every
  GPU of the machine), as ``nvidia-smi`` reports them (``engine.compute.gpus``).

The interval is ``TRAINYARD_SYSTEM_METRICS_INTERVAL`` seconds (the job's environment variables,
else the supervisor's; default 5; 0 turns sampling off). The points are stored under the cursor
``system``, whose offset counts the samples, so a restarted supervisor goes on at the next step.

A script on an SSH target is sampled on its host, from /proc, by a small sampler started beside
it (engine.compute.sysmon); its lines come back with the run's other files, by byte offset, and
PulledSystemMetrics stores them (the cursor's offset is then a byte offset). A distributed run
over several hosts is sampled per node, as ``system/node<k>/...`` (PulledNodes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil

from engine.compute.gpus import GpuInventory, local_gpus
from engine.compute.sysmon import (
    DEFAULT_INTERVAL,
    PREFIX,
    gpu_metrics,
    parse_remote_line,
    sampling_interval,
    visible_gpus,
)

__all__ = [
    "DEFAULT_INTERVAL",
    "PREFIX",
    "SOURCE",
    "PulledNodes",
    "PulledSystemMetrics",
    "SystemMetrics",
    "SystemSampler",
    "for_run",
    "sampling_interval",
    "visible_gpus",
]

SOURCE = "system"  # the store cursor of the samples
MIB = 1024 * 1024


class SystemSampler:
    """Samples one run. ``root_pid``: the script's process (its descendants are counted too);
    None where the script does not run on this machine (only the GPUs are then sampled)."""

    def __init__(
        self,
        root_pid: int | None,
        gpus: set[int] | None = None,
        query_gpus: Callable[[], GpuInventory] = local_gpus,
    ) -> None:
        self.root_pid = root_pid
        self.gpus = gpus
        self.query_gpus = query_gpus
        self._procs: dict[int, psutil.Process] = {}  # kept, so cpu_percent measures since the last sample
        self._io_done: dict[int, tuple[int, int]] = {}  # bytes read/written by processes that ended
        self._io_seen: dict[int, tuple[int, int]] = {}
        self._net_start = self._net()
        self._has_gpus = True

    @staticmethod
    def _net() -> tuple[int, int] | None:
        try:
            n = psutil.net_io_counters()
        except (OSError, RuntimeError):
            return None
        return (n.bytes_sent, n.bytes_recv) if n is not None else None

    def _tree(self) -> list[psutil.Process]:
        if self.root_pid is None:
            return []
        try:
            root = self._procs.get(self.root_pid) or psutil.Process(self.root_pid)
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        procs = []
        for p in found:
            kept = self._procs.setdefault(p.pid, p)
            procs.append(kept)
        alive = {p.pid for p in procs}
        for pid in list(self._procs):
            if pid not in alive:
                del self._procs[pid]
                seen = self._io_seen.pop(pid, None)
                if seen is not None:  # an ended process's I/O still counts for the run
                    done = self._io_done.get(0, (0, 0))
                    self._io_done[0] = (done[0] + seen[0], done[1] + seen[1])
        return procs

    def sample(self) -> dict[str, float]:
        """One sample: metric name -> value (what could not be read is left out)."""
        out: dict[str, float] = {}
        procs = self._tree()
        if procs:
            cpu = rss = 0.0
            for p in procs:
                try:
                    with p.oneshot():
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss
                        io = p.io_counters()
                        self._io_seen[p.pid] = (io.read_bytes, io.write_bytes)
                except (psutil.Error, AttributeError, OSError):
                    continue
            out[PREFIX + "cpu_percent"] = cpu
            out[PREFIX + "memory_rss_mib"] = rss / MIB
            done = self._io_done.get(0, (0, 0))
            read = done[0] + sum(v[0] for v in self._io_seen.values())
            written = done[1] + sum(v[1] for v in self._io_seen.values())
            out[PREFIX + "disk_read_mib"] = read / MIB
            out[PREFIX + "disk_write_mib"] = written / MIB
        net = self._net()
        if net is not None and self._net_start is not None:
            out[PREFIX + "network_sent_mib"] = (net[0] - self._net_start[0]) / MIB
            out[PREFIX + "network_recv_mib"] = (net[1] - self._net_start[1]) / MIB
        if self._has_gpus:
            out.update(self._gpu_metrics())
        return out

    def _gpu_metrics(self) -> dict[str, float]:
        inventory = self.query_gpus()
        if not inventory.gpus:
            self._has_gpus = False  # no nvidia-smi or no driver: do not ask every few seconds
            return {}
        return gpu_metrics(inventory.gpus, self.gpus)


class SystemMetrics:
    """Samples a run every ``interval`` seconds into the store (``poll`` from the supervisor's loop)."""

    def __init__(self, store: Any, run_name: str, sampler: SystemSampler, interval: float) -> None:
        self.store = store
        self.run_name = run_name
        self.sampler = sampler
        self.interval = interval
        self.step = store.get_cursor(run_name, SOURCE)[0]  # samples stored before a restart
        self.next_at = 0.0
        if interval > 0:
            sampler.sample()  # primes the CPU counters; the first stored sample covers an interval
            self.next_at = time.monotonic() + interval

    def poll(self, final: bool = False) -> int:
        """Sample when one is due; returns the number of metrics stored. `final`: the script has
        ended (nothing more to sample)."""
        if final or self.interval <= 0 or time.monotonic() < self.next_at:
            return 0
        self.next_at = time.monotonic() + self.interval
        values = self.sampler.sample()
        if not values:
            return 0
        now = time.time()
        step = self.step
        scalars = {k: ([step], [v], [now]) for k, v in values.items()}
        self.store.ingest(self.run_name, source=SOURCE, offset=step + 1, last_seq=step + 1, scalars=scalars)
        self.step = step + 1
        return len(values)


class PulledSystemMetrics:
    """Stores the samples a sampler on another host wrote (engine.compute.sysmon), from the local
    copy the run's puller appends to by byte offset. The cursor ``system`` (``system/node<k>``
    for node k of a distributed run) holds the byte offset of the lines stored, in the same
    transaction as their points: a restart neither loses nor stores a sample twice. The steps
    are the sampler's own."""

    def __init__(self, store: Any, run_name: str, path: Path, node: int | None = None) -> None:
        self.store = store
        self.run_name = run_name
        self.path = path
        self.node = node
        self.source = SOURCE if node is None else f"{SOURCE}/node{node}"
        self.offset, self.seq = store.get_cursor(run_name, self.source)

    def poll(self, final: bool = False) -> int:
        """Store the whole lines that arrived; returns the number of points stored."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        end = data.rfind(b"\n") + 1
        if end == 0:
            return 0
        scalars: dict[str, tuple[list[int], list[float], list[float]]] = {}
        for line in data[:end].splitlines():
            parsed = parse_remote_line(line, self.node)
            if parsed is None:
                continue
            step, at, values = parsed
            self.seq = max(self.seq, step + 1)
            for key, value in values.items():
                steps, vals, times = scalars.setdefault(key, ([], [], []))
                steps.append(step)
                vals.append(value)
                times.append(at)
        offset = self.offset + end
        self.store.ingest(self.run_name, source=self.source, offset=offset, last_seq=self.seq, scalars=scalars)
        self.offset = offset
        return sum(len(v[0]) for v in scalars.values())


class PulledNodes:
    """The samples of each node of a distributed run on other hosts, one sampler per node."""

    def __init__(self, nodes: list[PulledSystemMetrics]) -> None:
        self.nodes = nodes

    def poll(self, final: bool = False) -> int:
        return sum(node.poll(final) for node in self.nodes)


def for_run(
    store: Any, run_name: str, handle: Any, job_env: Mapping[str, str]
) -> SystemMetrics | PulledSystemMetrics | PulledNodes | None:
    """The sampler of a run: its script's process tree where it is a process of this machine (a
    local process, its ``pid``, or a container of this machine's Docker daemon, its
    ``host_pid()``); the samples pulled from the host where the script runs on an SSH target
    (its handle's ``system_metrics_file``), or from each node's host of a distributed run there
    (``system_metrics_nodes``: node, None for a one-node run, -> file). None where sampling is
    off or not done."""
    nodes = getattr(handle, "system_metrics_nodes", None)
    if nodes:
        return PulledNodes([PulledSystemMetrics(store, run_name, path, node) for node, path in nodes.items()])
    if hasattr(handle, "system_metrics_file"):  # the script runs elsewhere: its pid is not ours
        path = handle.system_metrics_file
        return PulledSystemMetrics(store, run_name, path) if path is not None else None
    pid = getattr(handle, "pid", None)
    host_pid = getattr(handle, "host_pid", None)
    if not isinstance(pid, int) and callable(host_pid):
        pid = host_pid()
    interval = sampling_interval(job_env)
    if not isinstance(pid, int) or interval <= 0:
        return None
    return SystemMetrics(store, run_name, SystemSampler(pid, visible_gpus(job_env)), interval)
