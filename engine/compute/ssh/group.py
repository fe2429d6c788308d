"""Distributed runs over SSH (`distribution: pytorch`, `resources.instance_count: N`) on a target
with several hosts (`hosts: [a, b]` in its YAML; node n runs on hosts[n]).

Each process of the run is one SshRun: its own remote folder (REMOTE-r<rank>), its own detached
process group, its driver log pulled into the run's per-rank log (engine.runtime.distribution's
name, `70_driver_log_<rank>.txt`). The processes get what torch.distributed reads, as on this
machine (engine.compute.distributed.rank_environment), with MASTER_ADDR node 0's host name and
MASTER_PORT a port that was free there. As with torchrun, the first process that fails ends the
others (their remote process groups, TERM then KILL) and the run fails with its exit code.
Metrics and logs of every process come back; ./logs comes from rank 0; ./outputs from all.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from engine.compute.distributed import LOCALHOST, node_environment, rank_environment, tf_config
from engine.compute.handle import wait_by_polling
from engine.compute.ssh.blobs import UploadResult
from engine.compute.ssh.connection import SshTarget
from engine.compute.ssh.mpi import SshMpiRun, make_ssh_mpi_run
from engine.compute.ssh.run import RUN_STATE, SshRun, make_ssh_run
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.environments.lock import Lock, diff_packages
from engine.errors import LaunchFailed
from engine.runtime.distribution import Distribution
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec
from engine.snapshots.blobs import write_atomic


class SshGroup:
    """The run handle of a distributed run over SSH (an engine.compute.handle.RunHandle)."""

    def __init__(
        self, runs: list[SshRun], dist: Distribution, log: Callable[[str], None], nodes: list[int] | None = None
    ) -> None:
        self.runs = runs
        self.dist = dist
        self.nodes = nodes if nodes is not None else [0] * len(runs)  # the node of each process
        self.log = log
        self.failed_rank: int | None = None
        self._code: int | None = None

    # What the supervisor reads of a run handle on SSH: rank 0's.
    @property
    def target(self) -> SshTarget:
        return self.runs[0].target

    @property
    def remote(self) -> str:
        return self.runs[0].remote

    @property
    def interpreter(self) -> str | None:
        return self.runs[0].interpreter

    @property
    def pid(self) -> int | None:
        return self.runs[0].pid

    # The attribute tells engine.runs.sysmetrics that the pid above is not a process of this
    # machine; each node's host is sampled by its first process (system_metrics_nodes).
    system_metrics_file = None

    @property
    def system_metrics_nodes(self) -> dict[int | None, Path]:
        """Node (None for a one-node run) -> the local copy of its host sampler's samples."""
        several = len(set(self.nodes)) > 1
        return {
            (run.sampled_node if several else None): run.system_metrics_file
            for run in self.runs
            if run.sampled_node is not None and run.system_metrics_file is not None
        }

    @property
    def failure(self) -> str | None:
        return next((r.failure for r in self.runs if r.failure), None)

    # ---------------------------------------------------------------- start
    def connect(self) -> None:
        for run in self.runs:
            run.connect()

    def build_environment(self, env: EnvironmentSpec, log: BuildLog) -> tuple[str, bool]:
        """The environment on every node's host (cached there after the first process)."""
        results = [run.build_environment(env, log) for run in self.runs]
        first = self.runs[0].env_lock
        for run in self.runs[1:]:  # hosts with other package indexes can resolve the spec otherwise
            if first is not None and run.env_lock is not None and run.env_lock.id != first.id:
                changes = diff_packages(list(first.packages), list(run.env_lock.packages))
                log.line(f"note: the environment on {run.target.address} differs from {self.target.address}'s "
                         f"(the run records the latter's): {', '.join(c.describe() for c in changes)}")
        return results[0][0], all(cached for _h, cached in results)

    @property
    def env_lock(self) -> Lock | None:
        return self.runs[0].env_lock

    def upload(self) -> UploadResult:
        sent = [run.upload() for run in self.runs]
        return functools.reduce(lambda total, more: total.plus(more, count_files=False), sent)

    def _environments(self) -> list[dict[str, str]]:
        """Each process's variables: pytorch's ranks around node 0's host and a port free there;
        tensorflow's TF_CONFIG with each process at its own host and a port free there."""
        addr = self.runs[0].target.hostname
        if self.dist.kind == "tensorflow":
            ports: list[int] = [0] * len(self.runs)
            by_host: dict[str, list[int]] = {}
            for i, run in enumerate(self.runs):
                by_host.setdefault(run.target.hostname, []).append(i)  # one network per host name
            for indices in by_host.values():
                for i, port in zip(
                    indices, self.runs[indices[0]].free_ports(len(indices)), strict=True
                ):
                    ports[i] = port
            hosts = [run.target.hostname for run in self.runs]
            node = {k: v.replace(LOCALHOST, addr) for k, v in node_environment(self.dist, ports[0]).items()}
            self.log(
                f"ssh: distributed tensorflow run of {len(self.runs)} process(es) at "
                f"{', '.join(f'{h}:{p}' for h, p in zip(hosts, ports, strict=True))}"
            )
            return [
                {**node, "TF_CONFIG": tf_config(self.dist, i, ports, hosts)} for i in range(len(self.runs))
            ]
        port = self.runs[0].free_ports(1)[0]
        self.log(
            f"ssh: distributed run of {len(self.runs)} process(es); MASTER_ADDR={addr} MASTER_PORT={port}"
        )
        return [
            {k: v.replace(LOCALHOST, addr) for k, v in rank_environment(self.dist, rank, port).items()}
            for rank in range(len(self.runs))
        ]

    def _sample_each_node(self) -> None:
        """The first process of each node samples the node: its own tree, and the others' from
        the pid files they write as they start (their shells are not its children)."""
        for node in dict.fromkeys(self.nodes):
            ranks = [r for r, n in enumerate(self.nodes) if n == node]
            first = self.runs[ranks[0]]
            first.sampled_node = node
            first.node_pid_files = [f"{self.runs[r].remote}/pgid" for r in ranks[1:]]
            first.node_containers = [self.runs[r].container for r in ranks[1:]]  # `docker: true`

    def start(self) -> None:
        envs = self._environments()
        self._sample_each_node()
        try:
            for run, env in zip(self.runs, envs, strict=True):
                run.start(env)
        except BaseException:
            for run in self.runs:
                if run.pgid is not None:
                    run.terminate(0)
            raise
        # Every process started (each recorded its own state): a supervisor started after this
        # one dies takes them all over (reattach()).
        state = {"processes": len(self.runs)}
        write_atomic(str(self.runs[0].files.root / RUN_STATE), json.dumps(state).encode())

    def reattach(self) -> None:
        """Take over the processes a supervisor before this one started (it died)."""
        for run in self.runs:
            run.reattach()

    # ---------------------------------------------------------------- supervise
    def poll(self) -> int | None:
        if self._code is not None:
            return self._code
        codes = [run.poll() for run in self.runs]
        for rank, code in enumerate(codes):
            if code is not None and code != 0:  # the first failure ends the others
                self.failed_rank = rank
                self.log(f"ssh: process {rank} ended with {code}: ending the others")
                for other in self.runs:
                    if other is not self.runs[rank]:
                        other.terminate(2.0)
                self._code = code
                return code
        if all(code is not None for code in codes):
            self._code = 0
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        return wait_by_polling(self.poll, timeout, f"the distributed run on {self.target.address} is still going")

    def terminate(self, grace: float) -> int:
        codes = [run.terminate(grace) for run in self.runs]
        self._code = next((c for c in codes if c != 0), 0) if self._code is None else self._code
        return self._code

    def cleanup(self) -> int:
        return sum(run.cleanup() for run in self.runs)

    def recorded_exit_code(self, code: int) -> int:
        return code

    def close(self) -> None:
        for run in self.runs:
            run.close()


def make_ssh_group(
    files: RunFiles, spec: LaunchSpec, log: Callable[[str], None], note: Callable[[str], None]
) -> SshGroup:
    """The handle of distributed run `spec`: process r on hosts[r // process_count_per_instance]
    of its target (LaunchFailed when the target has fewer hosts than the run has nodes)."""
    dist = spec.distribution
    assert dist is not None
    settings = dict(spec.placement.ssh or {})
    name = str(spec.placement.compute_target or settings.get("host"))
    hosts = list(settings.get("hosts") or [settings.get("host")])
    if dist.kind not in ("pytorch", "tensorflow") or dist.instance_count > len(hosts):
        raise LaunchFailed(
            f"compute target {name!r} cannot run this distributed job: it has {len(hosts)} host(s), "
            f"the job asks for {dist.instance_count} {dist.kind} node(s)",
            "list the nodes in the compute YAML (`hosts: [a, b]`) or lower "
            "`resources.instance_count`",
        )
    runs, nodes = [], []
    per = dist.process_count_per_instance
    for rank in range(dist.world_size):
        # pytorch: P processes per node, in order; tensorflow: its tasks round the nodes
        node = rank % dist.instance_count if dist.kind == "tensorflow" else rank // per
        nodes.append(node)
        target = SshTarget.from_config(name, {**settings, "host": hosts[node]})
        runs.append(
            SshRun(
                target, files, spec, log, note, rank=rank, driver_log=files.system_logs / dist.log_name(rank)
            )
        )
    return SshGroup(runs, dist, log, nodes)


def make_ssh_handle(
    files: RunFiles, spec: LaunchSpec, log: Callable[[str], None], note: Callable[[str], None]
) -> SshRun | SshGroup | SshMpiRun:
    """The handle of run `spec` on its SSH target: one script, mpirun's ranks, or one SshRun per
    process of a pytorch/tensorflow run."""
    dist = spec.distribution
    if dist is None:
        return make_ssh_run(files, spec, log, note)
    if dist.kind == "mpi":
        return make_ssh_mpi_run(files, spec, log, note)
    return make_ssh_group(files, spec, log, note)


__all__ = ["SshGroup", "make_ssh_group", "make_ssh_handle"]
