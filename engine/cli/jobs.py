"""`trainyard job ...`: submit, follow, inspect, cancel and download jobs (runs)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from engine import entities as E
from engine.cli.options import OUTPUT, open_engine, workspace_option
from engine.cli.output import human_duration, print_fields, print_json, print_table, run_document, show
from engine.errors import NotFound
from engine.runtime.sweepresults import SweepRecord

SHOWN_FIELDS = ("name", "display_name", "experiment_name", "status", "compute", "environment", "command",
                "creation_time", "start_time", "end_time", "exit_code", "error", "snapshot_id", "run_dir")


@click.group()
def job() -> None:
    """Create, follow and inspect jobs (runs)."""


@job.command("create")
@click.option("-f", "--file", "file", required=True, type=click.Path(dir_okay=False), help="job YAML")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a field, e.g. inputs.lr=0.1")
@click.option("-n", "--name", default=None, help="job name (default: generated)")
@click.option("--stream", is_flag=True, help="follow the driver log; exit non-zero unless the job Completed")
@workspace_option
@OUTPUT
@click.pass_context
def job_create(ctx: click.Context, file: str, overrides: tuple[str, ...], name: str | None, stream: bool,
               workspace: str | None, output_format: str) -> None:
    """Submit a job described by an Azure ML CLI v2 job YAML."""
    # The job YAML loader loads pydantic and PyYAML: only this command pays for them.
    from engine.specs.jobs import load_job

    spec = load_job(file, list(overrides))
    if name:
        spec = replace(spec, name=name)
    eng = open_engine(ctx, workspace)
    run = eng.submit(spec, on_warning=lambda msg: click.echo(f"warning: {msg}", err=True))
    if not stream:
        show(output_format, run_document(run), f"Submitted job {run.name} (experiment {run.experiment_name}); "
                                               f"follow it with `trainyard job stream -n {run.name}`")
        return
    # --stream: the log goes to stdout, or to stderr when stdout is kept for the final document.
    if output_format != "json":
        click.echo(f"Submitted job {run.name} (experiment {run.experiment_name}); "
                   f"follow it with `trainyard job stream -n {run.name}`", err=True)
    final = _stream(eng, run.name, to_stderr=output_format == "json")
    if output_format == "json":
        print_json(run_document(final, eng.latest_metrics(final.name)))
    sys.exit(0 if final.status == "Completed" else 1)


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
@workspace_option
@OUTPUT
@click.pass_context
def job_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one job."""
    eng = open_engine(ctx, workspace)
    run = eng.get_run(name)
    doc = run_document(run, eng.latest_metrics(name))
    show(output_format, doc, lambda: _print_job(name, run, doc))


def _print_job(name: str, run: E.Run, doc: dict[str, Any]) -> None:
    print_fields(doc, 17, SHOWN_FIELDS)
    click.echo(f"{'duration:':17} {human_duration(run.duration)}")
    if run.parent_name:
        click.echo(f"{'parent:':17} {run.parent_name}")
    sweep = SweepRecord.from_properties(run.properties)
    if sweep is not None:
        result = sweep.result
        counts = ", ".join(f"{n} {status.lower()}" for status, n in result.trials.items())
        click.echo(f"{'trials:':17} {counts or 'none yet'} (see `trainyard job list`; trials are {name}_N)")
        if result.best_child_run_id:
            shown = ", ".join(f"{k}={v}" for k, v in result.best_params.items())
            click.echo(f"{'best trial:':17} {result.best_child_run_id} ({sweep.primary_metric} "
                       f"{result.best_metric_value}; {shown})")
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
@click.option("--max-results", default=None, type=int)
@workspace_option
@OUTPUT
@click.pass_context
def job_list(ctx: click.Context, experiment: str | None, status: str | None, max_results: int | None,
             workspace: str | None, output_format: str) -> None:
    """List jobs, newest first."""
    eng = open_engine(ctx, workspace)
    statuses = None
    if status:
        statuses = [s for s in E.RUN_STATUSES if s.lower() == status.lower()]
    runs = eng.list_runs(experiment=experiment, statuses=statuses, limit=max_results)
    show(output_format, lambda: [run_document(r) for r in runs], lambda: print_table(
        [{"name": r.name, "experiment": r.experiment_name, "status": r.status,
          "created": (E.iso(r.created_at) or "")[:19].replace("T", " "),
          "duration": human_duration(r.duration), "display_name": r.display_name} for r in runs],
        ["name", "experiment", "status", "created", "duration", "display_name"],
        empty="No jobs yet. Submit one with `trainyard job create -f job.yml`."))


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
@click.option("--all", "include_all", is_flag=True, help="also the logs")
@workspace_option
@click.pass_context
def job_download(ctx: click.Context, name: str, output: str, include_all: bool, workspace: str | None) -> None:
    """Download a job's outputs/ (and logs with --all)."""
    eng = open_engine(ctx, workspace)
    copied = eng.download(name, Path(output), include_logs=include_all)
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
