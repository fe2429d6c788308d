"""The batch script Trainyard writes for one run (kept in the run folder as
azureml-logs/slurm_job.sh, submitted with `sbatch`).

One process: the batch shell runs the script itself (no job step: nothing between `sbatch` and
the script's first line but Slurm's own start). A distributed run (`distribution: pytorch|mpi`):
`--nodes`/`--ntasks-per-node`, and `srun` launches the ranks; each rank gets MASTER_ADDR (the
first host of `scontrol show hostnames`), MASTER_PORT (free on that host), WORLD_SIZE, RANK,
LOCAL_RANK, NODE_RANK (from SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID) and Azure's variables, and
writes its own driver log REMOTE/ranks/70_driver_log_<rank>.txt. The script's exit status is
written to REMOTE/exit_code (through a rename: whole when it exists).

`ro_mount` inputs: the batch script probes the node it starts on (engine.compute.hostmounts) and
runs the script (each rank) in a private mount namespace with the inputs mounted read-only; where
the node refuses namespaces, it runs it as it is and says so in the driver log, once per input."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence

from engine.compute.hostmounts import namespace_probe, permission_bits_note, read_only_wrapper
from engine.compute.slurm.target import SlurmTarget, slurm_time
from engine.runtime.distribution import Distribution

__all__ = ["RANKS_DIR", "batch_script"]

RANKS_DIR = "ranks"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FREE_PORT = "import socket; s = socket.socket(); s.bind(('', 0)); print(s.getsockname()[1])"


def sbatch_options(
    target: SlurmTarget, run_name: str, remote: str, max_seconds: float | None, dist: Distribution | None
) -> list[str]:
    """The #SBATCH options of a run (the target's extra lines last: they win)."""
    opts = [f"--job-name={run_name}", f"--output={remote}/driver.log", f"--chdir={remote}/wd"]
    for key, value in (("partition", target.partition), ("account", target.account), ("qos", target.qos)):
        if value:
            opts.append(f"--{key}={value}")
    limit = slurm_time(max_seconds) if max_seconds else target.time_limit
    if limit:
        opts.append(f"--time={limit}")
    if dist is not None:
        opts += [f"--nodes={dist.instance_count}", f"--ntasks-per-node={dist.process_count_per_instance}"]
    else:
        opts += ["--nodes=1", "--ntasks=1"]
    if target.gpus:
        opts.append(
            f"--gres=gpu:{target.gpus}" if target.gpu_request == "gres" else f"--gpus-per-node={target.gpus}"
        )
    return opts + [line.strip().removeprefix("#SBATCH").strip() for line in target.sbatch]


def batch_script(
    target: SlurmTarget,
    run_name: str,
    remote: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    max_seconds: float | None = None,
    dist: Distribution | None = None,
    sampler: str = "",
    read_only: Mapping[str, str] | None = None,
    node_sampler: str = "",
) -> str:
    """The whole batch script of a run whose files are in `remote` (wd/, inject/, bin/, tracking/).
    `sampler`: the command that starts its system-metrics sampler (engine.compute.sysmon), if any;
    it is ended, and waited for, before the exit status is written. `node_sampler`: a
    distributed job's instead, run by each task before it starts the script (one per node). `read_only`: the ro_mount
    inputs, name -> the folder to mount read-only (absolute on the cluster)."""
    q = shlex.quote
    lines = ["#!/bin/bash"]
    lines += [f"#SBATCH {opt}" for opt in sbatch_options(target, run_name, remote, max_seconds, dist)]
    lines += [f"# Written by Trainyard for run {run_name} (compute target {target.name}).", ""]
    lines += [f"export {k}={q(str(v))}" for k, v in env.items() if _ENV_NAME.match(k)]
    lines.append(f'export PYTHONPATH={q(remote + "/inject")}"${{PYTHONPATH:+:$PYTHONPATH}}"')
    lines.append(f'export PATH={q(remote + "/bin")}:"$PATH"')
    lines.append('echo "[trainyard] Slurm job $SLURM_JOB_ID on $(hostname) (nodes: $SLURM_JOB_NODELIST)"')
    if dist is not None:
        ranks = f"{remote}/{RANKS_DIR}"
        lines += [
            f"mkdir -p {q(ranks)}",
            'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
            f"MASTER_PORT=$(python3 -c {q(_FREE_PORT)} 2>/dev/null || echo 29500)",
            "export MASTER_ADDR MASTER_PORT WORLD_SIZE=$SLURM_NTASKS",
            f"export LOCAL_WORLD_SIZE={dist.process_count_per_instance} AZUREML_NODE_COUNT={dist.instance_count}",
            'export AZ_BATCHAI_PYTORCH_INIT_METHOD="tcp://$MASTER_ADDR:$MASTER_PORT"',
            'export AZ_BATCH_MASTER_NODE="$MASTER_ADDR:$MASTER_PORT" AZ_BATCHAI_MPI_MASTER_NODE="$MASTER_ADDR"',
            'export AZ_BATCHAI_JOB_MASTER_NODE_IP="$MASTER_ADDR"',
        ]

    def launch(words: Sequence[str]) -> str:
        if dist is None:
            return shlex.join(words)
        # Each rank: its own variables from Slurm's, its own driver log.
        rank = (
            "export RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID NODE_RANK=$SLURM_NODEID "
            "GROUP_RANK=$SLURM_NODEID AZ_BATCHAI_TASK_INDEX=$SLURM_PROCID; "
            + (f"{node_sampler}; " if node_sampler else "")
            + f'exec "$@" > {q(ranks)}/70_driver_log_$SLURM_PROCID.txt 2>&1'
        )
        # An MPI job's ranks find each other through srun's PMI server (PMIx: what OpenMPI 4+,
        # MPICH and Intel MPI use when srun starts them); pytorch's through MASTER_ADDR.
        mpi = f"--mpi={target.mpi} " if dist.kind == "mpi" and target.mpi != "default" else ""
        return f"srun --kill-on-bad-exit=1 --export=ALL {mpi}/bin/sh -c {q(rank)} rank {shlex.join(words)}"

    command = launch(argv) if not read_only else _read_only_case(remote, read_only, argv, launch)
    done, tmp = q(f"{remote}/exit_code"), q(f"{remote}/exit.tmp")
    if sampler:
        lines.append(sampler)
    lines += [command, "code=$?"]
    if sampler:
        lines.append('kill "$sysmon" 2>/dev/null; wait "$sysmon"')
    lines += [f"echo $code > {tmp} && mv {tmp} {done}", "exit $code", ""]
    return "\n".join(lines)


def _read_only_case(
    remote: str, read_only: Mapping[str, str], argv: Sequence[str], launch: Callable[[Sequence[str]], str]
) -> str:
    """The script started in a read-only mount namespace of the kind the node allows (the probe
    runs there, in the batch script), or as it is with a driver-log line per input."""
    paths = list(dict.fromkeys(read_only.values()))
    notes = []
    for name in read_only:
        before, after = permission_bits_note(name, "the Slurm node $(hostname)", "\0").split("\0")
        head, tail = before.split("$(hostname)")
        notes.append(f'printf \'[trainyard] %s%s%s%s%s\\n\' {shlex.quote(head)} "$(hostname)" '
                     f'{shlex.quote(tail)} "$why" {shlex.quote(after)}')
    return "\n".join([
        f"ns=$({namespace_probe(remote)})",
        'case "$ns" in',
        f'  "ns root") {launch(read_only_wrapper("root", paths, list(argv)))} ;;',
        f'  "ns user") {launch(read_only_wrapper("user", paths, list(argv)))} ;;',
        f'  *) why="${{ns#ns none }}"; {"; ".join(notes)}; {launch(argv)} ;;',
        "esac",
    ])
