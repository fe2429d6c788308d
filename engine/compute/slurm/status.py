"""What Slurm says about a job and a cluster, read from its client commands, in Trainyard's terms.

A job's state comes from `squeue` while Slurm holds it, then from `sacct` (where accounting is
on), else `scontrol show job` (kept for MinJobAge after the end). PENDING is a Queued run with the
reason Slurm gives; RUNNING (and COMPLETING) a Running one; the final states map to Completed or
Failed, with the state and the reason in the run's error. The cluster's overview (partitions,
nodes, GPUs, the user's queue) comes from `sinfo` and `squeue`.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from engine.compute.slurm.target import Login

__all__ = ["ClusterOverview", "JobState", "explain_reason", "failure_message", "job_state", "overview"]

RUNNING = ("RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "SUSPENDED", "STOPPED")
FINAL = (
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "CANCELLED",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "SPECIAL_EXIT",
    "REVOKED",
)
# Slurm's pending reasons people meet most, in words (others are shown as Slurm gives them).
REASONS = {
    "Resources": "waiting for resources: the nodes it asks for are busy",
    "Priority": "other jobs of the partition have a higher priority",
    "Dependency": "waiting for a job it depends on",
    "BeginTime": "its start time has not come yet",
    "ReqNodeNotAvail": "a node it needs is not available (down, drained or reserved)",
    "PartitionTimeLimit": "its time limit is above the partition's",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionDown": "the partition is down",
    "PartitionInactive": "the partition is inactive",
    "JobHeldUser": "held by its user (scontrol release)",
    "JobHeldAdmin": "held by an administrator",
    "QOSMaxJobsPerUserLimit": "the QOS's limit of running jobs per user is reached",
    "AssocGrpGRES": "the account's GPU limit is reached",
    "AssocMaxJobsLimit": "the account's limit of running jobs is reached",
    "None": "just submitted; the scheduler has not looked at it yet",
}


@dataclass(frozen=True)
class JobState:
    state: str  # Slurm's, e.g. PENDING, RUNNING, COMPLETED, TIMEOUT ("" when Slurm no longer knows it)
    reason: str = ""
    exit_code: int | None = None  # the batch script's, from ExitCode=N:S
    signal: int = 0
    nodes: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def running(self) -> bool:
        return self.state in RUNNING


def explain_reason(reason: str) -> str:
    """Slurm's pending reason with what it means: `Resources (waiting for resources: ...)`."""
    words = REASONS.get(reason)
    return f"{reason} ({words})" if words else reason


def _exit(text: str) -> tuple[int | None, int]:
    code, _, sig = text.partition(":")
    try:
        return int(code), int(sig or 0)
    except ValueError:
        return None, 0


def job_state(login: Login, job_id: str) -> JobState:
    """The job's state now (squeue, else sacct, else scontrol; `state` "" when none knows it)."""
    res = login.run(["squeue", "-h", "-j", job_id, "-o", "%T|%r|%N"])
    if res.code == 0 and res.out.strip():
        state, reason, nodes = (res.out.strip().splitlines()[0].split("|") + ["", ""])[:3]
        if state not in FINAL:  # squeue keeps a finished job a moment: sacct/scontrol say how it ended
            return JobState(state, "" if reason == "None" and state != "PENDING" else reason, nodes=nodes)
    res = login.run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,ExitCode,Reason,NodeList"])
    if res.code == 0 and res.out.strip():
        state, code, reason, nodes = (res.out.strip().splitlines()[0].split("|") + ["", "", ""])[:4]
        exit_code, sig = _exit(code)
        return JobState(
            state.split()[0] if state else "", reason if reason != "None" else "", exit_code, sig, nodes
        )
    res = login.run(["scontrol", "-o", "show", "job", job_id])
    if res.code == 0 and res.out.strip():
        fields = dict(w.split("=", 1) for w in res.out.split() if "=" in w)
        exit_code, sig = _exit(fields.get("ExitCode", ""))
        reason = fields.get("Reason", "")
        return JobState(
            fields.get("JobState", ""),
            "" if reason == "None" else reason,
            exit_code,
            sig,
            fields.get("NodeList", ""),
        )
    return JobState("")


def failure_message(job_id: str, st: JobState, time_limit: str | None) -> str | None:
    """Why a job that ended in `st` failed, though its script may not have (None: it did not, or the
    script's exit code says it all)."""
    why = f" ({st.reason})" if st.reason else ""
    if st.state == "TIMEOUT":
        limit = f" ({time_limit})" if time_limit else ""
        return f"Slurm ended job {job_id} at its time limit{limit}: TIMEOUT{why}"
    if st.state == "OUT_OF_MEMORY":
        return f"Slurm ended job {job_id}: OUT_OF_MEMORY (it used more memory than it asked for; add --mem)"
    if st.state == "CANCELLED":
        return f"Slurm cancelled job {job_id}: CANCELLED{why} (not through Trainyard)"
    if st.state in ("NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE", "REVOKED"):
        return f"Slurm ended job {job_id}: {st.state}{why}"
    return None


@dataclass
class ClusterOverview:
    """What the studio's compute page and `compute show` list for a Slurm target."""

    partitions: list[dict[str, str]] = field(default_factory=list)  # name, avail, timelimit, nodes, state...
    nodes: list[dict[str, str]] = field(default_factory=list)  # name, partition, state, cpus, gres
    queue: list[dict[str, str]] = field(default_factory=list)  # the user's jobs
    error: str | None = None

    def node_counts(self) -> dict[str, int]:
        """Nodes per state (idle, mixed, allocated, ...), each node counted once."""
        seen: dict[str, str] = {}
        for n in self.nodes:
            seen[n["name"]] = n["state"]
        counts: dict[str, int] = {}
        for state in seen.values():
            counts[state] = counts.get(state, 0) + 1
        return counts


def _rows(text: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            parts = line.split("|")
            values = ["" if p.strip() == "(null)" else p.strip() for p in parts]
            rows.append(dict(zip(keys, values + [""] * (len(keys) - len(parts)))))
    return rows


def overview(login: Login, user: str | None = None) -> ClusterOverview:
    """Partitions, nodes (idle/mixed/allocated), GPUs (gres) and `user`'s queue."""
    out = ClusterOverview()
    res = login.run(["sinfo", "-h", "-o", "%P|%a|%l|%D|%t|%G"])
    if res.code != 0:
        out.error = f"sinfo failed: {res.text()}"
        return out
    out.partitions = _rows(res.out, ("partition", "avail", "timelimit", "nodes", "state", "gres"))
    res = login.run(["sinfo", "-h", "-N", "-o", "%N|%P|%T|%c|%C|%G"])
    if res.code == 0:
        out.nodes = _rows(res.out, ("name", "partition", "state", "cpus", "cpus_aiot", "gres"))
    who = user or (getpass.getuser() if login.target.local else None)
    argv = ["squeue", "-h", "-o", "%i|%j|%T|%r|%P|%M|%l|%D|%u"] + (["-u", who] if who else ["--me"])
    res = login.run(argv)
    if res.code == 0:
        out.queue = _rows(
            res.out, ("job_id", "name", "state", "reason", "partition", "time", "time_limit", "nodes", "user")
        )
    return out
