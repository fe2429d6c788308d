"""The supervisor's side of a run on a Slurm target: prepare it (the environment on the login
node, the run's files into the shared work dir), submit it, and record what Slurm says while it
waits and runs (Queued with Slurm's reason, Running on which nodes) as the run's status,
properties (`slurm_job_id`, `slurm_state`, `slurm_reason`, `slurm_nodes`) and driver-log lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.compute.slurm import JobState, SlurmRun, explain_reason, make_slurm_run
from engine.compute.targets import run_environment
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec

__all__ = ["reattach_slurm", "record_slurm_state", "start_slurm"]


def record_slurm_state(
    store: Any, run_name: str, st: JobState, job_id: str, note: Callable[[str], None]
) -> None:
    """Slurm's view of the job as the run's status: PENDING -> Queued (the reason in the driver log
    and the `slurm_reason` property), RUNNING -> Running."""
    props: dict[str, Any] = {"slurm_job_id": job_id, "slurm_state": st.state}
    if st.state == "PENDING":
        reason = explain_reason(st.reason or "None")
        props["slurm_reason"] = reason
        store.merge_properties(run_name, props)
        store.set_status(run_name, "Queued")
        note(f"Slurm job {job_id} is PENDING: {reason}")
        return
    if st.nodes:
        props["slurm_nodes"] = st.nodes
    store.merge_properties(run_name, props, drop=("slurm_reason",))
    if st.running:
        store.set_status(run_name, "Running")
        note(f"Slurm job {job_id} is {st.state}" + (f" on {st.nodes}" if st.nodes else ""))


def start_slurm(
    spec: LaunchSpec,
    files: RunFiles,
    store: Any,
    log: Callable[[str], None],
    note: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> SlurmRun | None:
    """Prepare and submit the run's Slurm job; its handle, or None when the run was canceled
    meanwhile. A failure (Slurm not answering, a build, sbatch refusing) raises, with its words."""
    run = make_slurm_run(
        files,
        spec,
        log,
        note,
        on_state=lambda st, job: record_slurm_state(store, spec.run_name, st, job, note),
    )
    try:
        run.connect()
        env_spec = run_environment(spec)
        props: dict[str, Any] = {}
        if env_spec is not None and env_spec.kind != "user":
            from engine.environments.build import BuildLog  # builders: the slow path only

            note(f"preparing the environment on the login node ({run.target.where})")
            env_hash, cached = run.build_environment(env_spec, BuildLog(files.build_log))
            props.update(environment_hash=env_hash, environment_cached=cached)
        note(f"copying the code to {run.remote}")
        sent = run.upload()
        if cancelled():
            run.close()
            return None
        store.set_status(spec.run_name, "Starting")
        job_id = run.submit()
        props.update(
            slurm_job_id=job_id,
            remote_dir=run.remote,
            upload_bytes=sent,
            interpreter=run.side.interpreter or spec.placement.ssh_interpreter,
        )
        store.merge_properties(spec.run_name, props)
        store.set_status(spec.run_name, "Queued")
        note(f"submitted to Slurm as job {job_id} (script: azureml-logs/slurm_job.sh)")
    except BaseException:
        run.close()
        raise
    return run


def reattach_slurm(spec: LaunchSpec, files: RunFiles, store: Any, log: Callable[[str], None],
                   note: Callable[[str], None]) -> SlurmRun:
    """A new supervisor for a run whose Slurm job was submitted by one that died: the job goes on
    in Slurm; this one follows it from where the other left off."""
    run = make_slurm_run(files, spec, log, note,
                         on_state=lambda st, job: record_slurm_state(store, spec.run_name, st, job, note))
    run.reattach()
    note(f"reattached to Slurm job {run.job_id} (the run's supervisor was restarted)")
    return run
