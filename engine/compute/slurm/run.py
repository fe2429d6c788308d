"""The run handle of a job on a Slurm cluster (an engine.compute.handle.RunHandle): the run's files
put in REMOTE on the shared filesystem (engine.compute.slurm.stage), one `sbatch` of the script
Trainyard wrote (engine.compute.slurm.script), then Slurm's view of the job (squeue, sacct,
scontrol: engine.compute.slurm.status) and the files it grows pulled back by byte offset.
Cancel is `scancel` of the whole job; Slurm enforces the time limit (--time)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from engine.compute.handle import shell_exit_code, wait_by_polling
from engine.compute.hostmounts import read_only_paths
from engine.compute.slurm.script import RANKS_DIR, batch_script
from engine.compute.slurm.stage import make_side
from engine.compute.slurm.status import JobState, failure_message, job_state
from engine.compute.slurm.target import SlurmTarget, slurm_time
from engine.compute.sysmon import (
    REMOTE_FILE,
    remote_sampler_command,
    sampling_interval,
    slurm_node_file,
    slurm_node_sampler_command,
)
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.errors import LaunchFailed
from engine.runtime.dataplan import REMOTE_RUN_ROOT
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec
from engine.snapshots.blobs import write_atomic
from engine.tracking.inject.trainyard_run.envvars import ENV_RUN_DIR, ENV_TRACKING_DIR

__all__ = ["JOB_SCRIPT", "RUN_STATE", "SlurmRun", "make_slurm_run"]

JOB_SCRIPT = "slurm_job.sh"  # in the run's azureml-logs/, and in REMOTE
RUN_STATE = "slurm-run.json"  # in the run folder once sbatch took the job
PULL_INTERVAL = 0.25
ENV_STATE_POLL = "TRAINYARD_SLURM_POLL_SECONDS"  # how often squeue is asked (default 1 s)

# (Slurm state, reason, job id) -> the supervisor records it (Queued with the reason, Running)
OnState = Callable[[JobState, str], None]


def _state_poll() -> float:
    try:
        return max(0.1, float(os.environ.get(ENV_STATE_POLL, "1")))
    except ValueError:
        return 1.0


class SlurmRun:
    """One run's Slurm job (an engine.compute.handle.RunHandle)."""

    failed_rank: int | None = None

    def __init__(
        self,
        target: SlurmTarget,
        files: RunFiles,
        spec: LaunchSpec,
        log: Callable[[str], None],
        note: Callable[[str], None],
        on_state: OnState | None = None,
    ) -> None:
        self.target, self.files, self.spec, self.log, self.note = target, files, spec, log, note
        self.side = make_side(target, files, spec, log, note)
        self.login = self.side.login
        self.on_state = on_state
        self.failure: str | None = None  # why the run failed though its script may not have
        self.cancelled_by: str | None = None  # Slurm cancelled it, not Trainyard
        self.job_id: str | None = None
        self.state = JobState("")
        self._code: int | None = None
        # The local copy of what the job's system-metrics sampler writes (engine.compute.sysmon);
        # None: not sampled (sampling off, a distributed run).
        self.system_metrics_file: Path | None = None
        # A distributed job's: node (None for a one-node job) -> the local copy of its sampler's file.
        self.system_metrics_nodes: dict[int | None, Path] = {}
        self._cancelling = False
        self._next_pull = 0.0
        self._next_state = 0.0
        self._poll_every = _state_poll()

    @property
    def remote(self) -> str:
        return self.side.remote

    # ---------------------------------------------------------------- start
    def connect(self) -> None:
        """Reach the login node and check Slurm answers there (LaunchFailed otherwise)."""
        self.side.connect()
        res = self.login.run(["sbatch", "--version"])
        if res.code != 0:
            raise LaunchFailed(
                f"Slurm's sbatch does not answer on {self.target.where} (compute target "
                f"{self.target.name!r}): {res.text()}",
                "check that Slurm's client commands work there (`sinfo`), e.g. that "
                "SLURM_CONF or the cluster's configuration is set",
            )

    def build_environment(self, env: EnvironmentSpec, log: BuildLog) -> tuple[str, bool]:
        """The job's environment built on the login node (cached there); (spec hash, cached)."""
        return self.side.build_environment(env, log)

    def _interpreter(self) -> str:
        built = self.side.interpreter
        if built:
            return built
        probed = getattr(getattr(self.side, "ssh", None), "interpreter", None)  # the login node's python3
        return str(probed or self.spec.placement.ssh_interpreter or "python3")

    def upload(self) -> int:
        """The code, the in-run client and the inputs into REMOTE; the bytes sent."""
        return self.side.upload(self._interpreter())

    def submit(self) -> str:
        """Write the batch script (kept as azureml-logs/slurm_job.sh) and `sbatch` it; the job id."""
        rem = self.remote
        argv = [a.replace(REMOTE_RUN_ROOT, rem) for a in self.spec.argv]
        if self.side.interpreter and self.spec.script:  # `python train.py` as the environment's python
            argv[0] = self.side.interpreter
        env = {k: v.replace(REMOTE_RUN_ROOT, rem) for k, v in self.spec.env.items()}
        env.update({ENV_TRACKING_DIR: f"{rem}/tracking", ENV_RUN_DIR: rem, "PYTHONUNBUFFERED": "1"})
        interval = sampling_interval(env)
        dist = self.spec.distribution
        node_sampler = (
            slurm_node_sampler_command(self._interpreter(), rem, f"{rem}/{RANKS_DIR}", interval)
            if dist is not None and interval
            else ""
        )
        text = batch_script(
            self.target,
            self.spec.run_name,
            rem,
            argv,
            env,
            self.spec.max_run_duration_seconds,
            self.spec.distribution,
            remote_sampler_command(self._interpreter(), rem, interval) if interval and dist is None else "",
            read_only_paths(self.spec.data, rem),
            node_sampler,
        )
        self.files.system_logs.mkdir(parents=True, exist_ok=True)
        (self.files.system_logs / JOB_SCRIPT).write_text(text)
        self.side.write(JOB_SCRIPT, text)
        res = self.login.run(["sbatch", "--parsable", f"{rem}/{JOB_SCRIPT}"])
        job_id = res.out.strip().split(";")[0] if res.code == 0 else ""
        if not job_id.isdigit():
            raise LaunchFailed(
                f"sbatch refused the job on {self.target.where}: {res.text()}",
                f"check the compute target's partition/account/qos/sbatch lines; the script "
                f"is {self.files.system_logs / JOB_SCRIPT}",
            )
        self.job_id = job_id
        if interval:
            self._pull_system_metrics()
        state = {"job_id": job_id, "remote": rem, "system_metrics": bool(interval)}
        write_atomic(str(self.files.root / RUN_STATE), json.dumps(state).encode())
        self.log(f"slurm: submitted job {job_id} ({rem})")
        return job_id

    def reattach(self) -> None:
        """Take over the job a supervisor before this one submitted (it died): its id from
        slurm-run.json, the pulls going on from the offsets it reached."""
        state = json.loads((self.files.root / RUN_STATE).read_text())
        self.job_id = str(state["job_id"])
        self.side.connect()
        if state.get("system_metrics"):
            self._pull_system_metrics()
        if self.side.puller is not None:
            self.side.puller.load()
        self.log(f"slurm: reattached to job {self.job_id} ({self.remote})")

    def _pull_system_metrics(self) -> None:
        puller = self.side.puller
        if puller is None:
            return
        dist = self.spec.distribution
        if dist is None:
            self.system_metrics_file = self.files.root / REMOTE_FILE
            puller.also[REMOTE_FILE] = self.system_metrics_file
            return
        for node in range(dist.instance_count):  # each node's sampler, named by node where several
            local = self.files.root / slurm_node_file(node)
            puller.also[f"{RANKS_DIR}/{slurm_node_file(node)}"] = local
            self.system_metrics_nodes[node if dist.instance_count > 1 else None] = local

    # ---------------------------------------------------------------- supervise
    def _pull(self) -> None:
        puller = self.side.puller
        if puller is None:
            return
        puller.pull()
        dist = self.spec.distribution
        for rank in range(dist.world_size if dist is not None else 0):
            name = dist.log_name(rank) if dist is not None else ""
            puller.pull_file(f"{RANKS_DIR}/70_driver_log_{rank}.txt", self.files.system_logs / name)

    def _exit_file(self) -> int | None:
        text = self.side.read("exit_code")
        try:
            code = int((text or "").strip())
        except ValueError:
            return None
        return shell_exit_code(code)

    def _observe(self, st: JobState) -> None:
        if (st.state, st.reason) != (self.state.state, self.state.reason) and not st.final and st.state:
            self.log(f"slurm: job {self.job_id} {st.state} {st.reason}".rstrip())
            if self.on_state is not None:
                self.on_state(st, self.job_id or "")
        self.state = st

    def _ended(self, st: JobState) -> int:
        """The run's exit code once Slurm says the job ended (`failure` / `cancelled_by` set)."""
        self._pull()
        code = self._exit_file()
        if not self._cancelling:
            why = failure_message(self.job_id or "?", st, self._time_limit())
            if st.state == "CANCELLED":
                self.cancelled_by = why
            elif why:
                self.failure = why
            elif not st.state and code is None:
                self.failure = (
                    f"Slurm no longer knows job {self.job_id} and it left no exit code "
                    f"(see {self.files.system_logs / JOB_SCRIPT})"
                )
        if code is None:
            code = st.exit_code if st.state in ("COMPLETED", "FAILED") and st.exit_code is not None else -15
            if st.signal and code == 0:
                code = -st.signal
        return code

    def _time_limit(self) -> str | None:
        seconds = self.spec.max_run_duration_seconds
        return (
            f"--time={slurm_time(seconds)}"
            if seconds
            else (f"--time={self.target.time_limit}" if self.target.time_limit else None)
        )

    def poll(self) -> int | None:
        """Pull what grew (every PULL_INTERVAL s), ask Slurm (every ENV_STATE_POLL s); the exit
        code once the job ended."""
        if self._code is not None:
            return self._code
        now = time.monotonic()
        if now >= self._next_pull:
            self._next_pull = now + PULL_INTERVAL
            try:
                self._pull()
            except Exception as exc:  # noqa: BLE001 - one failed read; the next poll tries again
                self.log(f"slurm: pull error: {type(exc).__name__}: {exc}")
        if now >= self._next_state and self.job_id is not None:
            self._next_state = now + self._poll_every
            st = job_state(self.login, self.job_id)
            if st.final or (not st.state and self.state.state):
                self._code = self._ended(st)
            else:
                self._observe(st)
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        return wait_by_polling(self.poll, timeout, f"Slurm job {self.job_id} is still going")

    def terminate(self, grace: float) -> int:
        """`scancel` the whole job (Slurm sends TERM, then KILL after its KillWait); wait until
        Slurm says it ended. Returns the exit code."""
        if self._code is not None or self.job_id is None:
            return self._code if self._code is not None else -15
        self._cancelling = True
        res = self.login.run(["scancel", self.job_id])
        if res.code != 0:
            self.log(f"slurm: scancel {self.job_id}: {res.text()}")
        deadline = time.monotonic() + grace + 60
        st = self.state
        while time.monotonic() < deadline:
            st = job_state(self.login, self.job_id)
            if st.final or not st.state:
                break
            time.sleep(0.3)
        self._code = self._ended(st)
        return self._code

    def cleanup(self) -> int:
        """Bring ./outputs and the named outputs back; REMOTE removed unless kept."""
        try:
            self.side.collect()
        finally:
            self.side.close()
        return 0

    def recorded_exit_code(self, code: int) -> int:
        return code

    def close(self) -> None:
        self.side.close()


def make_slurm_run(
    files: RunFiles,
    spec: LaunchSpec,
    log: Callable[[str], None],
    note: Callable[[str], None],
    on_state: OnState | None = None,
) -> SlurmRun:
    """The handle of run `spec` on its Slurm target (its placement's `slurm` settings)."""
    target = SlurmTarget.from_settings(
        str(spec.placement.compute_target or "slurm"), spec.placement.slurm or {}
    )
    return SlurmRun(target, files, spec, log, note, on_state)
