"""`trainyard` entry point. Every user error is a TrainyardError: message + hint, exit code 1."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from engine import entities as E
from engine.cli.output import (
    compute_document,
    data_document,
    human_duration,
    model_document,
    print_json,
    print_table,
    run_document,
)
from engine.errors import InvalidSpec, TrainyardError

OUTPUT = click.option("-o", "--output", "output_format", type=click.Choice(["table", "json"]),
                      default="table", show_default=True, help="json: one JSON document on stdout")


def workspace_option(fn: Any) -> Any:
    return click.option("-w", "--workspace", "workspace", default=None, metavar="PATH",
                        help="workspace folder (else $TRAINYARD_WORKSPACE, the nearest .trainyard/ upward, "
                             "or the per-user default)")(fn)


def open_engine(ctx: click.Context, workspace: str | None = None) -> Any:
    from engine.api import Engine

    chosen = workspace or (ctx.find_root().obj or {}).get("workspace")
    return Engine.open(chosen)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@workspace_option
@click.version_option(package_name="trainyard")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """Trainyard: train machine-learning models on your own machines.

    `trainyard` with no command opens the studio window (`trainyard --screenshot FILE
    [--page NAME] [--run NAME]` renders a page of it to a PNG).
    """
    ctx.obj = {"workspace": workspace}


# --------------------------------------------------------------------------- init
@cli.command()
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("--store-url", default=None, help="SQLAlchemy URL of the store (default: SQLite in the folder)")
@OUTPUT
def init(path: str | None, store_url: str | None, output_format: str) -> None:
    """Create a workspace folder (PATH, default: the current folder)."""
    from engine.api import Engine
    from engine.workspace import WorkspaceLocation

    loc = WorkspaceLocation(Path(path or ".").absolute()).ensure(store_url)
    Engine(loc).close()
    if output_format == "json":
        print_json({"workspace": str(loc.folder), "storage": str(loc.storage), "store_url": loc.store_url})
    else:
        click.echo(f"Initialized a Trainyard workspace in {loc.folder} (store: {loc.store_url})")


# --------------------------------------------------------------------------- job
@cli.group()
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
    from dataclasses import replace

    from engine.specs.jobs import load_job

    spec = load_job(file, list(overrides))
    if name:
        spec = replace(spec, name=name)
    eng = open_engine(ctx, workspace)
    run = eng.submit(spec, on_warning=lambda msg: click.echo(f"warning: {msg}", err=True))
    if output_format == "json" and not stream:
        print_json(run_document(run))
        return
    if output_format != "json":
        click.echo(f"Submitted job {run.name} (experiment {run.experiment_name}); "
                   f"follow it with `trainyard job stream -n {run.name}`", err=stream)
    if stream:
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
    if output_format == "json":
        print_json(doc)
        return
    for key in ("name", "display_name", "experiment_name", "status", "compute", "environment", "command",
                "creation_time", "start_time", "end_time", "exit_code", "error", "snapshot_id", "run_dir"):
        click.echo(f"{key + ':':17} {'-' if doc[key] is None else doc[key]}")
    click.echo(f"{'duration:':17} {human_duration(run.duration)}")
    if run.parent_name:
        click.echo(f"{'parent:':17} {run.parent_name}")
    props = run.properties
    if props.get("run_type") == "sweep":
        counts = ", ".join(f"{n} {status.lower()}" for status, n in (props.get("trials") or {}).items())
        click.echo(f"{'trials:':17} {counts or 'none yet'} (see `trainyard job list`; trials are {name}_N)")
        if props.get("best_child_run_id"):
            shown = ", ".join(f"{k}={v}" for k, v in (props.get("best_params") or {}).items())
            click.echo(f"{'best trial:':17} {props['best_child_run_id']} ({props.get('primary_metric')} "
                       f"{props.get('best_metric_value')}; {shown})")
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
    if output_format == "json":
        print_json([run_document(r) for r in runs])
        return
    if not runs:
        click.echo("No jobs yet. Submit one with `trainyard job create -f job.yml`.")
        return
    print_table([{"name": r.name, "experiment": r.experiment_name, "status": r.status,
                  "created": (E.iso(r.created_at) or "")[:19].replace("T", " "),
                  "duration": human_duration(r.duration), "display_name": r.display_name} for r in runs],
                ["name", "experiment", "status", "created", "duration", "display_name"])


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
    if output_format == "json":
        print_json(run_document(run))
    else:
        click.echo(f"Job {name}: {run.status}")


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
    summaries = eng.store.metric_summaries(eng.get_run(name).name)
    keys = [s.key for s in summaries if s.kind == "scalar"]
    if metric is not None:
        if metric not in {s.key for s in summaries}:
            from engine.errors import NotFound

            raise NotFound(f"job {name!r} has no metric {metric!r}",
                           f"its metrics: {', '.join(s.key for s in summaries) or 'none yet'}")
        keys = [metric] if metric in keys else []
    points: list[dict[str, Any]] = []
    for key in keys:
        points.extend(eng.metric_history(name, key).points())
    objects = [o for o in eng.store.metric_objects(name, metric)]
    if output_format == "json":
        doc: list[dict[str, Any]] = points + [
            {"key": o.key, "step": o.step, "value": o.value, "timestamp": E.iso(o.timestamp), "type": o.kind}
            for o in objects
        ]
        print_json(doc)
        return
    if not summaries:
        click.echo(f"Job {name} has logged no metrics yet.")
        return
    print_table([{"key": s.key, "type": s.kind, "count": s.count, "last": s.last_value, "min": s.min_value,
                  "max": s.max_value} for s in summaries if metric in (None, s.key)],
                ["key", "type", "count", "last", "min", "max"])


# --------------------------------------------------------------------------- model
@cli.group()
def model() -> None:
    """Register, list and download models."""


def _name_version(ref: str) -> tuple[str, int | None]:
    name, _, version = ref.removeprefix("azureml:").partition(":")
    if "@" in name:
        name, _, label = name.partition("@")
        if label != "latest":
            raise InvalidSpec(f"unknown label {label!r} in {ref!r}", "only @latest is supported")
        return name, None
    if version:
        if not version.isdigit():
            raise InvalidSpec(f"version {version!r} in {ref!r} is not a number", "use NAME:VERSION, e.g. mymodel:2")
        return name, int(version)
    return name, None


@model.command("create")
@click.option("--name", required=True)
@click.option("--path", required=True, help="file or folder; with --run, relative to the run (outputs/model.pt)")
@click.option("--run", "run_name", default=None, help="the job that produced it")
@click.option("--description", default="")
@workspace_option
@OUTPUT
@click.pass_context
def model_create(ctx: click.Context, name: str, path: str, run_name: str | None, description: str,
                 workspace: str | None, output_format: str) -> None:
    """Register a file or folder as the next version of a model."""
    eng = open_engine(ctx, workspace)
    m = eng.register_model(name, path, run_name=run_name, description=description)
    if output_format == "json":
        print_json(model_document(m))
    else:
        click.echo(f"Registered model {m.name}:{m.version}" + (f" from job {m.run_name}" if m.run_name else ""))


@model.command("list")
@click.option("--name", default=None)
@workspace_option
@OUTPUT
@click.pass_context
def model_list(ctx: click.Context, name: str | None, workspace: str | None, output_format: str) -> None:
    """List registered models (all versions)."""
    eng = open_engine(ctx, workspace)
    models = eng.store.list_models(name)
    if output_format == "json":
        print_json([model_document(m) for m in models])
    elif not models:
        click.echo("No models yet. Register one with `trainyard model create --name NAME --path PATH`.")
    else:
        print_table([model_document(m) for m in models], ["name", "version", "run", "creation_time", "path"])


@model.command("show")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION or NAME@latest")
@workspace_option
@OUTPUT
@click.pass_context
def model_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one model version (default: the latest)."""
    eng = open_engine(ctx, workspace)
    m = eng.store.get_model(*_name_version(name))
    doc = model_document(m)
    if output_format == "json":
        print_json(doc)
    else:
        for k, v in doc.items():
            click.echo(f"{k + ':':14} {'-' if v in (None, '', {}) else v}")


@model.command("download")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION or NAME@latest")
@click.option("--output", "--download-path", "output", default=".", type=click.Path(file_okay=False))
@workspace_option
@click.pass_context
def model_download(ctx: click.Context, name: str, output: str, workspace: str | None) -> None:
    """Download a model version's files."""
    eng = open_engine(ctx, workspace)
    n, v = _name_version(name)
    click.echo(f"Downloaded {eng.download_model(n, v, Path(output))}")


# --------------------------------------------------------------------------- data
@cli.group()
def data() -> None:
    """Register and list data assets."""


@data.command("create")
@click.option("--name", required=True)
@click.option("--path", required=True, help="local file or folder, or an http(s) URL")
@click.option("--description", default="")
@workspace_option
@OUTPUT
@click.pass_context
def data_create(ctx: click.Context, name: str, path: str, description: str, workspace: str | None,
                output_format: str) -> None:
    """Register a data asset (the next version of NAME)."""
    eng = open_engine(ctx, workspace)
    d = eng.create_data_asset(name, path, description)
    if output_format == "json":
        print_json(data_document(d))
    else:
        click.echo(f"Registered data asset {d.name}:{d.version} ({d.kind}: {d.path})")


@data.command("list")
@workspace_option
@OUTPUT
@click.pass_context
def data_list(ctx: click.Context, workspace: str | None, output_format: str) -> None:
    """List data assets."""
    eng = open_engine(ctx, workspace)
    assets = eng.store.list_data_assets()
    if output_format == "json":
        print_json([data_document(d) for d in assets])
    elif not assets:
        click.echo("No data assets yet. Register one with `trainyard data create --name NAME --path PATH`.")
    else:
        print_table([data_document(d) for d in assets], ["name", "version", "type", "path"])


@data.command("show")
@click.option("-n", "--name", required=True)
@workspace_option
@OUTPUT
@click.pass_context
def data_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one data asset version (default: the latest)."""
    eng = open_engine(ctx, workspace)
    doc = data_document(eng.store.get_data_asset(*_name_version(name)))
    if output_format == "json":
        print_json(doc)
    else:
        for k, v in doc.items():
            click.echo(f"{k + ':':14} {v}")


# --------------------------------------------------------------------------- environment
@cli.group("environment")
def environment_group() -> None:
    """Register, list and show environments (registered and curated)."""


def _environment_document(spec: Any, created_at: float | None = None) -> dict[str, Any]:
    doc = spec.to_dict()
    doc.update(reference=spec.reference, kind=spec.kind, curated=bool(spec.curated))
    if created_at is not None:
        doc["creation_time"] = E.iso(created_at)
    return doc


@environment_group.command("create")
@click.option("-f", "--file", "file", required=True, type=click.Path(dir_okay=False), help="environment YAML")
@workspace_option
@OUTPUT
@click.pass_context
def environment_create(ctx: click.Context, file: str, workspace: str | None, output_format: str) -> None:
    """Register an environment YAML as the next version of its name (or its `version:`)."""
    from engine.environments.resolve import register_environment
    from engine.specs.environment import load_environment_yaml

    spec = load_environment_yaml(file)
    eng = open_engine(ctx, workspace)
    env = register_environment(eng.store, spec)
    if output_format == "json":
        print_json(_environment_document(env, eng.store.environment_created_at(env.name, env.version)))
    else:
        click.echo(f"Registered environment {env.name}:{env.version} ({env.kind})")


@environment_group.command("list")
@click.option("--name", default=None, help="only this name (all its versions)")
@workspace_option
@OUTPUT
@click.pass_context
def environment_list(ctx: click.Context, name: str | None, workspace: str | None, output_format: str) -> None:
    """List registered environments (all versions) and the curated ones."""
    from engine.environments.resolve import list_all_environments

    eng = open_engine(ctx, workspace)
    specs = [s for s in list_all_environments(eng.store) if name is None or s.name == name]
    if output_format == "json":
        print_json([{"name": s.name, "version": s.version, "kind": s.kind, "curated": s.curated,
                     "description": s.description, "reference": s.reference} for s in specs])
    elif not specs:
        click.echo(f"No environment named {name!r}." if name else "No environments.")
    else:
        print_table([{"name": s.name, "version": s.version, "kind": s.kind,
                      "source": "curated" if s.curated else "registered", "description": s.description}
                     for s in specs], ["name", "version", "kind", "source", "description"])


@environment_group.command("show")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION, NAME@latest or azureml:... reference")
@workspace_option
@OUTPUT
@click.pass_context
def environment_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one environment version (default: the latest), registered or curated."""
    from engine.environments.resolve import resolve_environment

    eng = open_engine(ctx, workspace)
    spec = resolve_environment(eng.store, name)
    created = None if spec.curated else eng.store.environment_created_at(spec.name, spec.version)
    doc = _environment_document(spec, created)
    if output_format == "json":
        print_json(doc)
        return
    for key in ("name", "version", "kind", "curated", "description", "image", "build_context", "conda_source",
                "pip_source", "interpreter_path", "creation_time"):
        if key in doc:
            click.echo(f"{key + ':':17} {'-' if doc[key] in (None, '') else doc[key]}")
    if spec.build_context:
        click.echo(f"{'dockerfile:':17} {spec.dockerfile}")
    if spec.conda is not None:
        click.echo("conda:")
        click.echo(f"  channels: {', '.join(spec.conda.get('channels') or []) or '-'}")
        for dep in spec.conda.get("dependencies") or []:
            if isinstance(dep, dict):
                for line in dep.get("pip") or []:
                    click.echo(f"  pip: {line}")
            else:
                click.echo(f"  - {dep}")
    if spec.pip_requirements is not None:
        click.echo("pip requirements:" + ("" if spec.pip_requirements else " none"))
        for line in spec.pip_requirements:
            click.echo(f"  {line}")
    if spec.environment_variables:
        click.echo("environment_variables:")
        for k, v in spec.environment_variables.items():
            click.echo(f"  {k}: {v}")


@environment_group.command("prune")
@workspace_option
@OUTPUT
@click.pass_context
def environment_prune(ctx: click.Context, workspace: str | None, output_format: str) -> None:
    """Remove the built environments (venvs, conda envs, Docker images) that no active job uses;
    the next job that needs one builds it again."""
    eng = open_engine(ctx, workspace)
    removed, in_use = eng.prune_environments()
    if output_format == "json":
        print_json({"removed": removed, "in_use": sorted(in_use)})
        return
    if not removed:
        click.echo("Nothing to remove." + (f" {len(in_use)} environment(s) in use by active jobs." if in_use else ""))
        return
    click.echo(f"Removed {len(removed)} built environment(s):")
    for r in removed:
        click.echo(f"  {r['hash'][:12]}  {r['kind'] or '?':6}  {r['image'] or r['prefix'] or '-'}")
    if in_use:
        click.echo(f"Kept {len(in_use)} in use by active jobs.")


# --------------------------------------------------------------------------- compute
@cli.group("compute")
def compute_group() -> None:
    """Create, list, show and delete compute targets (`local` and `docker` are built in)."""


@compute_group.command("create")
@click.option("-f", "--file", "file", default=None, type=click.Path(dir_okay=False), help="compute YAML")
@click.option("-n", "--name", default=None, help="the target's name (with -f: overrides the file's `name:`)")
@click.option("--type", "type_", default=None, type=click.Choice(["local", "docker"]),
              help="without -f: local (a process here) or docker (the local Docker daemon)")
@click.option("--network", default=None, help="docker: host (default), none, bridge or a network's name")
@click.option("--gpus", default=None, help='docker: a number, "all" or "device=0,1"')
@click.option("--image", default=None, help="docker: the image of jobs that have no environment image")
@click.option("--description", default=None)
@workspace_option
@OUTPUT
@click.pass_context
def compute_create(ctx: click.Context, file: str | None, name: str | None, type_: str | None, network: str | None,
                   gpus: str | None, image: str | None, description: str | None, workspace: str | None,
                   output_format: str) -> None:
    """Register a compute target from a compute YAML (-f), or from --name and --type."""
    from engine.compute.targets import create_compute_target
    from engine.specs.compute import compute_from_mapping, load_compute_yaml

    options = {"type": type_, "network": network, "gpus": gpus, "image": image, "description": description}
    if file is not None:
        given = [f"--{k}" for k, v in options.items() if v is not None]
        if given:
            raise InvalidSpec(f"{', '.join(given)} cannot be combined with -f",
                              "put the settings in the compute YAML (only --name may override it)")
        target = load_compute_yaml(file, name=name)
    else:
        if not name or not type_:
            raise InvalidSpec("give -f COMPUTE.yml, or --name and --type",
                              "e.g. `trainyard compute create --name cpu-cluster --type local`")
        data: dict[str, Any] = {"name": name, **{k: v for k, v in options.items() if v is not None}}
        target = compute_from_mapping(data)
    eng = open_engine(ctx, workspace)
    created = create_compute_target(eng.store, target)
    if output_format == "json":
        print_json(compute_document(created))
    else:
        click.echo(f"Created compute target {created.name} ({created.type})")


@compute_group.command("list")
@workspace_option
@OUTPUT
@click.pass_context
def compute_list(ctx: click.Context, workspace: str | None, output_format: str) -> None:
    """List the compute targets: the built-in ones, then those created in this workspace."""
    eng = open_engine(ctx, workspace)
    targets = eng.store.list_compute_targets()
    if output_format == "json":
        print_json([compute_document(t) for t in targets])
        return
    print_table([{"name": t.name, "type": t.type, "source": "built-in" if t.builtin else "created",
                  "settings": ", ".join(f"{k}={v}" for k, v in t.config.items()) or None,
                  "description": t.description} for t in targets],
                ["name", "type", "source", "settings", "description"])


@compute_group.command("show")
@click.option("-n", "--name", required=True, help="NAME or azureml:NAME")
@workspace_option
@OUTPUT
@click.pass_context
def compute_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one compute target (built in or created)."""
    from engine.compute.targets import resolve_compute

    eng = open_engine(ctx, workspace)
    doc = compute_document(resolve_compute(eng.store, name))
    if output_format == "json":
        print_json(doc)
    else:
        for k, v in doc.items():
            click.echo(f"{k + ':':21} {'-' if v in (None, '') else v}")


@compute_group.command("delete")
@click.option("-n", "--name", required=True, help="NAME or azureml:NAME")
@workspace_option
@OUTPUT
@click.pass_context
def compute_delete(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Delete a created compute target (jobs that ran on it keep its name)."""
    eng = open_engine(ctx, workspace)
    target = eng.store.delete_compute_target(name.removeprefix("azureml:"))
    if output_format == "json":
        print_json({**compute_document(target), "deleted": True})
    else:
        click.echo(f"Deleted compute target {target.name}")


# --------------------------------------------------------------------------- python
@cli.command("python", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@workspace_option
@click.pass_context
def python_cmd(ctx: click.Context, script: str, args: tuple[str, ...], workspace: str | None) -> None:
    """Run a control script written for the Azure ML SDK v1 against this workspace."""
    from engine.runs.launch import _ENGINE_ROOT, INJECT_DIR
    from engine.tracking.inject.trainyard_run.envvars import ENV_WORKSPACE
    from engine.workspace import resolve_workspace

    if not Path(script).is_file():
        from engine.errors import NotFound

        raise NotFound(f"the control script {script!r} does not exist", "give the path of a .py file")
    chosen = workspace or (ctx.find_root().obj or {}).get("workspace")
    loc = resolve_workspace(chosen).ensure()
    env = dict(os.environ)
    env[ENV_WORKSPACE] = str(loc.folder)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(INJECT_DIR), _ENGINE_ROOT, *filter(None, [env.get("PYTHONPATH")])])
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, script, *args], env)


def main(argv: list[str] | None = None) -> None:
    # A closed pipe (trainyard job list | head) is not an error worth a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        cli.main(args=argv, prog_name="trainyard", standalone_mode=True)
    except TrainyardError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
