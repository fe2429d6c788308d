"""Runs on `type: slurm` compute targets: Trainyard is a Slurm client, not a scheduler.

The run's supervisor stays on this machine (the login node, or one that reaches it over SSH). It
puts the run's code, the in-run client and the inputs into REMOTE (work_dir/<run>) on the
cluster's shared filesystem, builds the environment on the login node, writes one batch script
(kept as azureml-logs/slurm_job.sh) and submits it with `sbatch`. From then on Slurm decides:
`squeue`/`sacct`/`scontrol` say Queued (with Slurm's reason) / Running / how it ended, the files
the job grows come back by byte offset as for SSH, cancel is `scancel`, Slurm enforces `--time`.

Modules: `target` (the settings, where commands run), `script` (the batch script), `status`
(Slurm's states and the cluster overview), `stage` (REMOTE: copies here or SSH uploads), `run`
(the run handle).
"""

from engine.compute.slurm.run import JOB_SCRIPT, RUN_STATE, SlurmRun, make_slurm_run
from engine.compute.slurm.status import ClusterOverview, JobState, explain_reason, overview
from engine.compute.slurm.target import Login, SlurmTarget

__all__ = [
    "JOB_SCRIPT",
    "RUN_STATE",
    "ClusterOverview",
    "JobState",
    "Login",
    "SlurmRun",
    "SlurmTarget",
    "explain_reason",
    "make_slurm_run",
    "overview",
]
