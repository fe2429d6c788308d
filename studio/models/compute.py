"""The table of compute targets (built-in and registered) with their state, GPUs and jobs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine import entities as E
from engine.compute import status as S
from engine.compute.gpus import GpuInventory
from studio.models.rows import RowTableModel
from studio.style import fmt_duration, fmt_time, run_duration, status_icon, status_label

TYPE_LABELS = {"local": "local", "docker": "Docker", "ssh": "SSH", "slurm": "Slurm"}
STATE_LOOK = {S.READY: "Completed", S.UNAVAILABLE: "Failed", S.NOT_IN_THIS_VERSION: "NotStarted"}


@dataclass(frozen=True)
class ComputeRow:
    target: E.ComputeTarget
    state: S.ComputeState
    gpus: GpuInventory
    jobs: tuple[E.Run, ...] = field(default=())  # active runs on this target


@dataclass(frozen=True)
class ComputeInventory:
    targets: list[E.ComputeTarget]
    states: dict[str, S.ComputeState]
    gpus: GpuInventory  # this machine's
    # name -> the GPU report (engine.api.compute.GpuReport) of the machine the target's runs use
    reports: dict[str, Any] = field(default_factory=dict)
    # name -> a Slurm target's cluster (engine.compute.slurm.ClusterOverview: sinfo, squeue)
    clusters: dict[str, Any] = field(default_factory=dict)

    def gpus_of(self, target: E.ComputeTarget) -> GpuInventory:
        report = self.reports.get(target.name)
        if report is not None:
            return report.inventory  # type: ignore[no-any-return]
        if target.type == "slurm":  # Slurm hands out the GPUs: what its nodes offer (gres)
            cluster = self.clusters.get(target.name)
            return GpuInventory((), slurm_gpus(cluster) if cluster is not None else "not asked: Slurm did not answer")
        if target.type == "ssh":
            return GpuInventory((), "not asked: the host is not reachable")
        return self.gpus


# An SSH host's GPUs are asked over a login: at most once a minute per host, not on every refresh.
SSH_GPUS_MAX_AGE_S = 60.0
_ssh_inventories: dict[tuple[str, str], tuple[float, GpuInventory]] = {}


def _report(engine: Any, target: E.ComputeTarget) -> Any:
    if target.type != "ssh":
        return engine.gpu_report(target)
    key = (target.name, repr(sorted(target.config.items())))
    cached = _ssh_inventories.get(key)
    if cached is not None and time.monotonic() - cached[0] < SSH_GPUS_MAX_AGE_S:
        return engine.gpu_report(target, inventory=cached[1])  # the leases are read afresh
    report = engine.gpu_report(target)
    _ssh_inventories[key] = (time.monotonic(), report.inventory)
    return report


def load_compute(engine: Any) -> ComputeInventory:
    """Targets, their states (a Docker ping), this machine's GPUs and those of the SSH hosts that
    answer (asked over SSH), with the run holding each: call off the GUI thread."""
    targets = engine.list_compute_targets()
    states = engine.compute_states(targets)
    reports = {t.name: _report(engine, t) for t in targets
               if t.type == "local" or t.type == "docker" or (t.type == "ssh" and states[t.name].ready)}
    local = next(
        (
            r.inventory
            for t, r in ((t, reports.get(t.name)) for t in targets)
            if t.type in ("local", "docker") and r is not None
        ),
        None,
    )
    clusters = {t.name: engine.slurm_overview(t) for t in targets if t.type == "slurm" and states[t.name].ready}
    return ComputeInventory(targets, states, local if local is not None else engine.local_gpus(), reports, clusters)


def slurm_gpus(cluster: Any) -> str:
    """A Slurm cluster's GPUs as its nodes declare them (gres), e.g. "gpu:4 on 2 node(s)"."""
    if cluster.error:
        return f"unknown: {cluster.error}"
    gres: dict[str, set[str]] = {}
    for node in cluster.nodes:
        for item in (node.get("gres") or "").split(","):
            if item.startswith("gpu"):
                gres.setdefault(item, set()).add(node["name"])
    return "; ".join(f"{g} on {len(n)} node(s)" for g, n in sorted(gres.items())) or "none (no node has gpu gres)"


def slurm_summary(cluster: Any) -> list[tuple[str, str]]:
    """The Compute page's lines for a Slurm cluster: partitions, nodes by state, GPUs, your queue."""
    if cluster.error:
        return [("Cluster", cluster.error)]
    parts = ", ".join(f"{p['partition']} ({p['avail']}, {p['nodes']} {p['state']}, limit {p['timelimit']})"
                      for p in cluster.partitions)
    nodes = ", ".join(f"{n} {state}" for state, n in sorted(cluster.node_counts().items()))
    queue = "\n".join(f"{j['job_id']} {j['name']} {j['state']}" + (f" ({j['reason']})" if j['state'] == "PENDING"
                                                                    else f" {j['time']}")
                       for j in cluster.queue)
    return [("Partitions", parts or "none"), ("Nodes", nodes or "none"), ("GPUs (gres)", slurm_gpus(cluster)),
            ("Your queue", queue or "empty")]


def gpu_text(target: E.ComputeTarget, gpus: GpuInventory) -> str:
    """What a target can use: this machine's GPUs (local), the request of a Docker target."""
    found = ", ".join(g.name for g in gpus.gpus) if gpus.gpus else "none"
    if target.type == "local":
        return found
    if target.type == "docker":
        requested = target.config.get("gpus")
        if requested in (None, 0, "0"):
            return "none requested"
        req = "all" if requested in (-1, "all") else str(requested)
        return f"{req} requested" if gpus.gpus else f"{req} (none here)"
    if target.type == "slurm":
        return gpus.note
    if not gpus.gpus and gpus.note.startswith(("not asked", "could not ask")):
        return "unknown (host not reached)"
    return found  # an SSH host's own


COLUMNS = ("Target", "Type", "State", "Jobs", "GPUs", "Description")
COL_NAME, COL_TYPE, COL_STATE, COL_JOBS, COL_GPUS, COL_DESCRIPTION = range(len(COLUMNS))


class ComputeTableModel(RowTableModel[ComputeRow]):
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = frozenset({COL_JOBS})

    def key(self, row: ComputeRow) -> Any:
        return row.target.name

    def display(self, row: ComputeRow, col: int) -> str:
        t = row.target
        if col == COL_NAME:
            return t.name
        if col == COL_TYPE:
            return TYPE_LABELS.get(t.type, t.type) + (" (built in)" if t.builtin else "")
        if col == COL_STATE:
            return row.state.state
        if col == COL_JOBS:
            return str(len(row.jobs))
        if col == COL_GPUS:
            return gpu_text(t, row.gpus)
        return t.description

    def sort_key(self, row: ComputeRow, col: int) -> Any:
        if col == COL_NAME:  # built-in targets first, then by name
            return (not row.target.builtin, row.target.name.lower())
        if col == COL_JOBS:
            return len(row.jobs)
        return self.display(row, col).lower()

    def decoration(self, row: ComputeRow, col: int) -> Any:
        if col == COL_STATE:
            return status_icon(STATE_LOOK.get(row.state.state, "NotStarted"))
        return None

    def tooltip(self, row: ComputeRow, col: int) -> str | None:
        if col == COL_STATE:
            return row.state.detail or None
        if col == COL_GPUS:
            return "\n".join(g.summary for g in row.gpus.gpus) or row.gpus.summary
        return None


JOB_COLUMNS = ("Run", "Status", "Experiment", "Running for")


class JobTableModel(RowTableModel[E.Run]):
    """The active runs of one target."""

    COLUMNS = JOB_COLUMNS

    def key(self, row: E.Run) -> Any:
        return row.name

    def display(self, row: E.Run, col: int) -> str:
        return (
            row.display_name,
            status_label(row.status),
            row.experiment_name,
            fmt_duration(run_duration(row.start_time, row.end_time)) or fmt_time(row.created_at),
        )[col]

    def decoration(self, row: E.Run, col: int) -> Any:
        return status_icon(row.status) if col == 1 else None
