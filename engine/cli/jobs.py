"""`trainyard job ...`: submit, follow, inspect, cancel and download jobs (runs)."""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from engine import entities as E
from engine.cli.jobdiff import print_diff
from engine.cli.options import OUTPUT, open_engine, open_reader, workspace_option
from engine.cli.output import (
    human_duration,
    print_fields,
    print_table,
    run_data_document,
    run_document,
    run_settings_document,
    show,
    wants_document,
)
from engine.cli.web import open_in_studio
from engine.environments.lock import read_lock
from engine.errors import InvalidSpec, NotFound
from engine.runs import standby
from engine.runtime.files import RunFiles
from engine.runtime.pipelineplan import PIPELINE_PROPERTY
from engine.runtime.sweepresults import SweepRecord

SHOWN_FIELDS = ("name", "display_name", "experiment_name", "status", "compute", "environment", "command",
                "creation_time", "start_time", "end_time", "exit_code", "error", "snapshot_id", "run_dir")


@click.group()
def job() -> None:
    """Create, follow and inspect jobs (runs)."""


def _load(file: str, overrides: tuple[str, ...], name: str | None) -> Any:
    """The job file as a JobSpec or SweepSpec, with `--set` and `-n` applied; a note on stderr for
    each key read as another or accepted and not used."""
    # The job YAML loader loads pydantic and PyYAML: only the commands that read a job file pay for them.
    from engine.specs.pipeline import load_any_job

    spec = load_any_job(file, list(overrides), on_note=lambda msg: click.echo(f"note: {msg}", err=True))
    return replace(spec, name=name) if name else spec


def _submit(eng: Any, spec: Any) -> E.Run:
    """Submit a job, sweep or pipeline spec, with warnings and progress on stderr."""
    def warn(msg: str) -> None:
        click.echo(f"warning: {msg}", err=True)

    def progress(msg: str) -> None:
        click.echo(msg, err=True)

    if type(spec).__name__ == "PipelineSpec":
        return eng.submit_pipeline(spec, on_warning=warn, on_progress=progress)
    return eng.submit(spec, on_warning=warn, on_progress=progress)


SET_HELP = ("override any field of the file, e.g. compute=local, compute.target=local, inputs.lr=0.1, "
            "inputs.data.path=./data, environment=azureml:NAME@latest; in a pipeline file also "
            "settings.default_compute=local, jobs.STEP.compute=local, jobs.STEP.inputs.x=1")


@job.command("create")
@click.option("-f", "--file", "file", default=None, type=click.Path(dir_okay=False), help="job YAML")
@click.option("--rerun", "rerun", default=None, metavar="RUN",
              help="run RUN again: its code snapshot, command, inputs and compute, its environment rebuilt "
                   "from RUN's lock (the exact packages it had)")
@click.option("--from-spec", is_flag=True, help="with --rerun: build the environment from its spec as it "
                                                "resolves now, not from the lock")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("-n", "--name", default=None, help="job name (default: generated)")
@click.option("--stream", is_flag=True, help="follow the driver log; exit non-zero unless the job Completed")
@click.option("--web", is_flag=True, help="open the job in the studio")
@workspace_option
@OUTPUT
@click.pass_context
def job_create(ctx: click.Context, file: str | None, rerun: str | None, from_spec: bool, overrides: tuple[str, ...],
               name: str | None, stream: bool, web: bool, workspace: str | None, output_format: str) -> None:
    """Submit a job described by an Azure ML CLI v2 job YAML (today's schema or its 2021 preview),
    or run a job again with --rerun."""
    if (file is None) == (rerun is None):
        raise click.UsageError("give either -f/--file JOB_YAML or --rerun RUN (not both)")
    if rerun is not None and (overrides or name):
        raise click.UsageError("--rerun runs the job exactly as it was: --set and --name do not apply")
    if from_spec and rerun is None:
        raise click.UsageError("--from-spec goes with --rerun RUN")
    # The run's supervisor imports on the other core while this checks, snapshots and records it.
    standby.start()
    eng = open_engine(ctx, workspace)
    if rerun is not None:
        run = eng.rerun(rerun, from_lock=not from_spec)
    else:
        assert file is not None
        run = _submit(eng, _load(file, overrides, name))
    submitted = (f"Submitted job {run.name} (experiment {run.experiment_name}); "
                 f"follow it with `trainyard job stream -n {run.name}`")
    if web:
        open_in_studio(run.name, eng.location.folder, eng.location.storage / "studio-web.log")
    if not stream:
        show(output_format, run_document(run), submitted)
        return
    # --stream: the log goes to stdout, or to stderr when stdout is kept for the final document.
    document = wants_document(output_format)
    if document:
        click.echo(submitted, err=True)
    final = _stream(eng, run.name, to_stderr=document)
    if document:
        show(output_format, run_document(final, eng.latest_metrics(final.name)), "")
    sys.exit(0 if final.status == "Completed" else 1)


@job.command("validate")
@click.option("-f", "--file", "file", required=True, type=click.Path(dir_okay=False), help="job YAML")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("-n", "--name", default=None, help="the job name a create would use")
@workspace_option
@OUTPUT
@click.pass_context
def job_validate(ctx: click.Context, file: str, overrides: tuple[str, ...], name: str | None,
                 workspace: str | None, output_format: str) -> None:
    """Check a job file as `job create` would (schema, compute, environment reference, inputs,
    code, command and its script) without creating anything: exit 0 and `valid`, or the error a
    create would give."""
    spec = _load(file, overrides, name)
    eng = open_engine(ctx, workspace)
    if type(spec).__name__ == "PipelineSpec":
        eng.validate_pipeline(spec)
        show(output_format, {"file": str(Path(file).resolve()), "valid": True, "type": "pipeline",
                             "steps": list(spec.steps), "edges": [list(e) for e in spec.edges()]},
             f"valid: {file} (pipeline of {len(spec.steps)} steps: {', '.join(spec.steps)})")
        return
    eng.validate(spec)
    trial = getattr(spec, "trial", spec)
    kind = "sweep" if trial is not spec else "command"
    show(output_format, {"file": str(Path(file).resolve()), "valid": True, "type": kind, "compute": trial.compute,
                         "environment": trial.environment or (trial.environment_spec.reference
                                                              if trial.environment_spec else None)},
         f"valid: {file} ({kind} job on compute {trial.compute})")


def _stream(eng: Any, name: str, *, to_stderr: bool = False) -> E.Run:
    out = sys.stderr if to_stderr else sys.stdout

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    try:
        final = eng.follow_log(name, write)
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; job {name} goes on. Follow again with `trainyard job stream -n {name}`",
                   err=True)
        sys.exit(130)
    msg = f"Job {name} {final.status}"
    if final.error:
        msg += f": {final.error}"
    click.echo(msg, err=True)
    return final


@job.command("stream")
@click.option("-n", "--name", required=True)
@workspace_option
@click.pass_context
def job_stream(ctx: click.Context, name: str, workspace: str | None) -> None:
    """Follow a job's driver log until it ends; exit code 0 only if it Completed."""
    eng = open_engine(ctx, workspace)
    final = _stream(eng, name)
    sys.exit(0 if final.status == "Completed" else 1)


@job.command("show")
@click.option("-n", "--name", required=True)
@click.option("--web", is_flag=True, help="open the job in the studio")
@workspace_option
@OUTPUT
@click.pass_context
def job_show(ctx: click.Context, name: str, web: bool, workspace: str | None, output_format: str) -> None:
    """Show one job."""
    eng = open_reader(ctx, workspace)
    run = eng.get_run(name)
    doc = run_document(run, eng.latest_metrics(name))
    lock = read_lock(RunFiles(Path(run.run_dir)).environment_lock)
    doc["environment_lock"] = lock.to_dict() if lock is not None else None
    doc["data"] = run_data_document(eng.run_data(name))
    doc.update(run_settings_document(RunFiles(Path(run.run_dir)).spec))
    if PIPELINE_PROPERTY in run.properties:
        graph = eng.pipeline_graph(name)
        doc["steps"] = [{"name": s.name, "job": s.run_name, "status": s.status, "reused_from": s.reused_from,
                         "error": s.error} for s in graph.steps]
    if web:
        open_in_studio(run.name, eng.location.folder, eng.location.storage / "studio-web.log")
    show(output_format, doc, lambda: _print_job(name, run, doc))


def _resources_line(doc: dict[str, Any]) -> str:
    """What the job asked for beyond one plain process (`-o json` has every field): e.g.
    `2 instances × 2 processes (pytorch), shm 2g, 1 GPU, timeout 30 s`."""
    res, dist, limits = doc.get("resources") or {}, doc.get("distribution"), doc.get("limits") or {}
    bits = []
    if dist:
        per = dist.get("process_count_per_instance") or 1
        bits.append(f"{dist['instance_count']} instance{'s' if dist['instance_count'] != 1 else ''}"
                    + (f" × {per} processes" if per > 1 else "") + f" ({dist['kind']})")
    elif (res.get("instance_count") or 1) > 1:
        bits.append(f"{res['instance_count']} instances")
    if res.get("shm_size"):
        bits.append(f"shm {res['shm_size']}")
    gpus = res.get("gpus")
    if gpus is not None:
        bits.append(f"{gpus} GPU{'s' if gpus != 1 else ''}" if isinstance(gpus, int) else f"GPUs {gpus}")
    if limits.get("timeout"):
        bits.append(f"timeout {human_duration(float(limits['timeout']))}")
    return ", ".join(bits)


def _print_job(name: str, run: E.Run, doc: dict[str, Any]) -> None:
    print_fields(doc, 17, SHOWN_FIELDS)
    lock = doc.get("environment_lock")
    if lock:
        click.echo(f"{'environment lock:':17} {lock['id']} ({lock['kind']}, {len(lock['packages'])} packages; "
                   f"`-o json` lists them)")
    click.echo(f"{'duration:':17} {human_duration(run.duration)}")
    asked = _resources_line(doc)
    if asked:
        click.echo(f"{'resources:':17} {asked}")
    if run.parent_name:
        click.echo(f"{'parent:':17} {run.parent_name}")
    slurm_job = run.properties.get("slurm_job_id")
    if slurm_job:  # a Slurm target's job: its id and, while it waits, why (engine.runs.slurmstart)
        state = run.properties.get("slurm_state")
        click.echo(f"{'slurm job:':17} {slurm_job}" + (f" ({state})" if state and not run.is_terminal else ""))
        if run.status == "Queued" and run.properties.get("slurm_reason"):
            click.echo(f"{'waiting because:':17} {run.properties['slurm_reason']}")
    if doc.get("steps"):
        click.echo("steps:")
        for s in doc["steps"]:
            why = f" (reused from {s['reused_from']})" if s["reused_from"] else f" ({s['error']})" if s["error"] else ""
            click.echo(f"  {s['name']}: {s['status']}, {s['job'] or 'no job'}{why}")
    sweep = SweepRecord.from_properties(run.properties)
    if sweep is not None:
        result = sweep.result
        counts = ", ".join(f"{n} {status.lower()}" for status, n in result.trials.items())
        click.echo(f"{'trials:':17} {counts or 'none yet'} (see `trainyard job list`; trials are {name}_N)")
        if result.best_child_run_id:
            shown = ", ".join(f"{k}={v}" for k, v in result.best_params.items())
            click.echo(f"{'best trial:':17} {result.best_child_run_id} ({sweep.primary_metric} "
                       f"{result.best_metric_value}; {shown})")
    for direction in ("inputs", "outputs"):
        if doc["data"][direction]:
            click.echo(f"data {direction}:")
            for d in doc["data"][direction]:
                click.echo(f"  {d['name']}: {d['asset'] or d['path']} ({d['type']}, {d['mode']})")
    for section in ("inputs", "params", "tags", "metrics"):
        if doc[section]:
            click.echo(f"{section}:")
            for k, v in doc[section].items():
                click.echo(f"  {k}: {v}")
    if run.git:
        click.echo(f"git:              {run.git.get('commit')} ({run.git.get('branch')})"
                   + (" dirty" if run.git.get("dirty") else ""))


@job.command("list")
@click.option("--experiment", default=None)
@click.option("--status", default=None, type=click.Choice(E.RUN_STATUSES, case_sensitive=False))
@click.option("--parent-job-name", "parent", default=None, metavar="NAME",
              help="only the child jobs of NAME (a sweep's trials)")
@click.option("--include-archived", is_flag=True, help="also the archived jobs (`job archive`)")
@click.option("-r", "--max-results", default=None, type=int)
@click.option("--all-results", is_flag=True, help="every job (the default here; as the Azure CLI's flag)")
@workspace_option
@OUTPUT
@click.pass_context
def job_list(ctx: click.Context, experiment: str | None, status: str | None, parent: str | None,
             include_archived: bool, max_results: int | None, all_results: bool, workspace: str | None,
             output_format: str) -> None:
    """List jobs, newest first (archived ones only with --include-archived)."""
    eng = open_reader(ctx, workspace)
    statuses = None
    if status:
        statuses = [s for s in E.RUN_STATUSES if s.lower() == status.lower()]
    if parent is not None:
        eng.get_run(parent)  # NotFound names the close matches
        children = eng.children(parent)
        hidden = set() if include_archived else eng.archived_among([r.name for r in children])
        runs = [r for r in children if r.name not in hidden
                and (experiment is None or r.experiment_name == experiment)
                and (statuses is None or r.status in statuses)]
        runs.sort(key=lambda r: r.created_at, reverse=True)
        runs = runs[:max_results] if max_results is not None and not all_results else runs
    else:
        runs = eng.list_runs(experiment=experiment, statuses=statuses, include_archived=include_archived,
                             limit=None if all_results else max_results)
    empty = (f"Job {parent} has no child jobs." if parent else
             "No jobs yet. Submit one with `trainyard job create -f job.yml`.")
    show(output_format, lambda: [run_document(r) for r in runs], lambda: print_table(
        [{"name": r.name, "experiment": r.experiment_name, "status": r.status,
          "created": (E.iso(r.created_at) or "")[:19].replace("T", " "),
          "duration": human_duration(r.duration), "display_name": r.display_name} for r in runs],
        ["name", "experiment", "status", "created", "duration", "display_name"], empty=empty))


@job.command("archive")
@click.option("-n", "--name", required=True)
@workspace_option
@OUTPUT
@click.pass_context
def job_archive(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Archive a job: `job list` and the studio's run list hide it (see it with --include-archived)."""
    eng = open_engine(ctx, workspace)
    run = eng.archive(eng.get_run(name).name, True)
    show(output_format, run_document(run), f"Archived job {run.name}; `trainyard job restore -n {run.name}` "
                                           "brings it back")


@job.command("restore")
@click.option("-n", "--name", required=True)
@workspace_option
@OUTPUT
@click.pass_context
def job_restore(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Restore an archived job to the job list."""
    eng = open_engine(ctx, workspace)
    run = eng.archive(eng.get_run(name).name, False)
    show(output_format, run_document(run), f"Restored job {run.name}")


UPDATABLE = "display_name, description, tags (a whole mapping) or tags.KEY"


@job.command("update")
@click.option("-n", "--name", required=True)
@click.option("--set", "changes", multiple=True, metavar="KEY=VALUE",
              help="display_name=..., description=..., tags.KEY=VALUE")
@click.option("--remove", "removals", multiple=True, metavar="tags.KEY", help="remove a tag")
@workspace_option
@OUTPUT
@click.pass_context
def job_update(ctx: click.Context, name: str, changes: tuple[str, ...], removals: tuple[str, ...],
               workspace: str | None, output_format: str) -> None:
    """Change a job's display name, description or tags (what describes it; not what it ran)."""
    eng = open_engine(ctx, workspace)
    run = eng.get_run(name)
    fields: dict[str, Any] = {}
    tags = dict(run.tags)
    for item in changes:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidSpec(f"--set {item!r}: expected KEY=VALUE", f"e.g. --set display_name=baseline ({UPDATABLE})")
        if key in ("display_name", "description"):
            fields[key] = value
        elif key.startswith("tags.") and len(key) > len("tags."):
            tags[key.removeprefix("tags.")] = value
        elif key == "tags":
            tags = _tags_mapping(value, item)
        else:
            raise InvalidSpec(f"--set {key}: a job's {key} cannot change after it was created",
                              f"only {UPDATABLE} can; submit the job again to change what it runs")
    for key in removals:
        if not key.startswith("tags.") or key.removeprefix("tags.") not in tags:
            raise InvalidSpec(f"--remove {key}: job {run.name} has no such tag",
                              f"its tags: {', '.join(sorted(tags)) or 'none'} (write --remove tags.KEY)")
        tags.pop(key.removeprefix("tags."))
    if tags != run.tags:
        fields["tags"] = tags
    updated = eng.update_run(run.name, **fields)
    show(output_format, run_document(updated, eng.latest_metrics(run.name)),
         f"Updated job {run.name}" + (f": {', '.join(sorted(fields))}" if fields else " (nothing changed)"))


def _tags_mapping(value: str, item: str) -> dict[str, Any]:
    try:
        tags = json.loads(value or "{}")
    except json.JSONDecodeError:
        tags = None
    if not isinstance(tags, dict):
        raise InvalidSpec(f"--set {item!r}: tags must be a JSON mapping", "e.g. --set tags='{\"team\": \"vision\"}' "
                          "or --set tags.team=vision")
    return {str(k): v for k, v in tags.items()}


@job.command("cancel")
@click.option("-n", "--name", required=True)
@click.option("--wait/--no-wait", default=True, help="wait until the job has ended")
@workspace_option
@OUTPUT
@click.pass_context
def job_cancel(ctx: click.Context, name: str, wait: bool, workspace: str | None, output_format: str) -> None:
    """Cancel a job: its whole process tree is ended (TERM, then KILL after a grace period)."""
    eng = open_engine(ctx, workspace)
    run = eng.cancel(name)
    if wait:
        run = eng.wait(name, timeout=60)
    show(output_format, run_document(run), f"Job {name}: {run.status}")


@job.command("download")
@click.option("-n", "--name", required=True)
@click.option("--output", "--download-path", "output", default=".", type=click.Path(file_okay=False),
              help="folder to download into (a sub-folder named after the job is made)")
@click.option("--output-name", default=None,
              help="one named output (the job's `outputs:`), into named-outputs/NAME")
@click.option("--all", "include_all", is_flag=True, help="everything: outputs/, the logs and every named output")
@click.option("--outputs", "outputs_only", is_flag=True,
              help="the outputs/ folder (what is downloaded without --all; the 2021 Azure ML CLI's flag)")
@workspace_option
@click.pass_context
def job_download(ctx: click.Context, name: str, output: str, output_name: str | None, include_all: bool,
                 outputs_only: bool, workspace: str | None) -> None:
    """Download a job's outputs/ (one named output with --output-name, everything with --all)."""
    eng = open_engine(ctx, workspace)
    if output_name is not None:
        for path in eng.download_output(name, output_name, Path(output)):
            click.echo(f"Downloaded {path}")
        return
    copied = eng.download(name, Path(output), include_logs=include_all)
    if include_all:
        copied += eng.download_output(name, None, Path(output) / name)
    if not copied:
        click.echo(f"Job {name} wrote no outputs/ or logs.", err=True)
    for path in copied:
        click.echo(f"Downloaded {path}")


@job.command("metrics")
@click.option("-n", "--name", required=True)
@click.option("--metric", default=None, help="one metric key (default: all)")
@workspace_option
@OUTPUT
@click.pass_context
def job_metrics(ctx: click.Context, name: str, metric: str | None, workspace: str | None,
                output_format: str) -> None:
    """Every logged point of a job's metrics: [{key, step, value, timestamp}]."""
    eng = open_engine(ctx, workspace)
    summaries = eng.metric_summaries(eng.get_run(name).name)
    keys = [s.key for s in summaries if s.kind == "scalar"]
    if metric is not None:
        if metric not in {s.key for s in summaries}:
            raise NotFound(f"job {name!r} has no metric {metric!r}",
                           f"its metrics: {', '.join(s.key for s in summaries) or 'none yet'}")
        keys = [metric] if metric in keys else []
    points: list[dict[str, Any]] = []
    for key in keys:
        points.extend(eng.metric_history(name, key).points())
    objects = eng.metric_objects(name, metric)
    doc: list[dict[str, Any]] = points + [
        {"key": o.key, "step": o.step, "value": o.value, "timestamp": E.iso(o.timestamp), "type": o.kind}
        for o in objects
    ]
    show(output_format, doc, lambda: print_table(
        [{"key": s.key, "type": s.kind, "count": s.count, "last": s.last_value, "min": s.min_value,
          "max": s.max_value} for s in summaries if metric in (None, s.key)],
        ["key", "type", "count", "last", "min", "max"], empty=f"Job {name} has logged no metrics yet."))


@job.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@workspace_option
@OUTPUT
@click.pass_context
def job_diff(ctx: click.Context, run_a: str, run_b: str, workspace: str | None, output_format: str) -> None:
    """What differs from RUN_A to RUN_B: environment packages (from their locks), command,
    parameters and inputs, compute, and code; differences first."""
    eng = open_engine(ctx, workspace)
    diff = eng.diff_runs(run_a, run_b)
    show(output_format, diff.to_dict, lambda: print_diff(diff))


@job.command("tensorboard")
@click.option("-n", "--name", "names", required=True, multiple=True, help="a job (repeat for several)")
@click.option("--port", default=None, type=int, help="port on 127.0.0.1 (default: a free one)")
@workspace_option
@click.pass_context
def job_tensorboard(ctx: click.Context, names: tuple[str, ...], port: int | None, workspace: str | None) -> None:
    """Open TensorBoard on the jobs' logs/ (their event files); runs until Ctrl-C."""
    eng = open_engine(ctx, workspace)
    server = eng.start_tensorboard(list(names), port)
    click.echo(f"TensorBoard for {', '.join(names)}: {server.url} (Ctrl-C to stop)")
    sys.stdout.flush()

    def interrupted(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # `kill` ends TensorBoard too, not only Ctrl-C
    try:
        while server.running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
