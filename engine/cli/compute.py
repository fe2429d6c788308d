"""`trainyard compute ...`: create, list, show and delete compute targets."""

from __future__ import annotations

from typing import Any

import click

from engine.cli.options import OUTPUT, open_engine, workspace_option
from engine.cli.output import compute_document, print_fields, print_table, show
from engine.compute.vmsizes import AmlComputeMapping
from engine.errors import InvalidSpec


@click.group("compute")
def compute_group() -> None:
    """Create, list, show and delete compute targets (`local` and `docker` are built in)."""


@compute_group.command("create")
@click.option("-f", "--file", "file", default=None, type=click.Path(dir_okay=False), help="compute YAML")
@click.option("-n", "--name", default=None, help="the target's name (with -f: overrides the file's `name:`)")
@click.option("--type", "type_", default=None, type=click.Choice(["local", "docker", "amlcompute"], case_sensitive=False),
              help="without -f: local (a process here), docker (the local Docker daemon) or amlcompute (an "
                   "Azure ML cluster mapped to this machine, see docs/compute.md)")
@click.option("--size", default=None, help="amlcompute: the Azure VM size (e.g. Standard_NC12: 2 GPUs)")
@click.option("--min-instances", type=int, default=None, help="amlcompute: recorded (default 0)")
@click.option("--max-instances", type=int, default=None, help="amlcompute: runs at a time on it (default 4)")
@click.option("--idle-time-before-scale-down", "idle_time", type=int, default=None,
              help="amlcompute: recorded, in seconds")
@click.option("--network", default=None, help="docker: host (default), none, bridge or a network's name")
@click.option("--gpus", default=None, help='docker: a number, "all" or "device=0,1"')
@click.option("--image", default=None, help="docker: the image of jobs that have no environment image")
@click.option("--description", default=None)
@workspace_option
@OUTPUT
@click.pass_context
def compute_create(ctx: click.Context, file: str | None, name: str | None, type_: str | None, size: str | None,
                   min_instances: int | None, max_instances: int | None, idle_time: int | None,
                   network: str | None, gpus: str | None, image: str | None, description: str | None,
                   workspace: str | None, output_format: str) -> None:
    """Register a compute target from a compute YAML (-f), or from --name and --type."""
    cluster = {"--size": size, "--min-instances": min_instances, "--max-instances": max_instances,
               "--idle-time-before-scale-down": idle_time}
    if (type_ or "").lower() == "amlcompute":
        _create_amlcompute(ctx, file, name, size, min_instances, max_instances, idle_time,
                           {"--network": network, "--gpus": gpus, "--image": image}, description, workspace,
                           output_format)
        return
    given = [k for k, v in cluster.items() if v is not None]
    if given:
        raise InvalidSpec(f"{', '.join(given)} only apply to --type amlcompute",
                          "remove them, or add --type amlcompute")
    # The compute YAML reader loads pydantic and PyYAML: only this command pays for them.
    from engine.specs.compute import compute_from_mapping, load_amlcompute_yaml, load_compute_yaml

    options = {"type": type_, "network": network, "gpus": gpus, "image": image, "description": description}
    if file is not None:
        given = [f"--{k}" for k, v in options.items() if v is not None]
        if given:
            raise InvalidSpec(f"{', '.join(given)} cannot be combined with -f",
                              "put the settings in the compute YAML (only --name may override it)")
        cluster_yaml = load_amlcompute_yaml(file, name=name)
        if cluster_yaml is not None:  # az ml's cluster YAML: mapped to this machine like --type amlcompute
            _show_cluster(open_engine(ctx, workspace).create_amlcompute_target(**cluster_yaml), output_format)
            return
        target = load_compute_yaml(file, name=name)
    else:
        if not name or not type_:
            raise InvalidSpec("give -f COMPUTE.yml, or --name and --type",
                              "e.g. `trainyard compute create --name cpu-cluster --type local`")
        data: dict[str, Any] = {"name": name, **{k: v for k, v in options.items() if v is not None}}
        target = compute_from_mapping(data)
    eng = open_engine(ctx, workspace)
    created = eng.create_compute_target(target)
    show(output_format, compute_document(created), f"Created compute target {created.name} ({created.type})")


def _create_amlcompute(ctx: click.Context, file: str | None, name: str | None, size: str | None,
                       min_instances: int | None, max_instances: int | None, idle_time: int | None,
                       others: dict[str, Any], description: str | None, workspace: str | None,
                       output_format: str) -> None:
    """`--type amlcompute`: an Azure ML cluster as a local target (engine.compute.vmsizes)."""
    wrong = [k for k, v in {"-f": file, **others}.items() if v is not None]
    if wrong:
        raise InvalidSpec(f"{', '.join(wrong)} cannot be combined with --type amlcompute",
                          "an amlcompute target takes --size, --min-instances, --max-instances and "
                          "--idle-time-before-scale-down")
    if not name:
        raise InvalidSpec("--type amlcompute needs --name", "e.g. `trainyard compute create -n cpu-cluster "
                          "--type amlcompute --max-instances 4`")
    eng = open_engine(ctx, workspace)
    made = eng.create_amlcompute_target(
        name, vm_size=size, min_nodes=0 if min_instances is None else min_instances,
        max_nodes=4 if max_instances is None else max_instances, idle_seconds_before_scaledown=idle_time,
        description=description or "")
    _show_cluster(made, output_format)


def _show_cluster(made: AmlComputeMapping, output_format: str) -> None:
    if made.note:
        click.echo(f"note: {made.note}", err=True)
    created = made.target
    show(output_format, compute_document(created),
         f"Created compute target {created.name} (amlcompute as {created.type}: up to "
         f"{created.config['max_concurrent_runs']} runs at a time)")


@compute_group.command("list")
@workspace_option
@OUTPUT
@click.pass_context
def compute_list(ctx: click.Context, workspace: str | None, output_format: str) -> None:
    """List the compute targets: the built-in ones, then those created in this workspace."""
    eng = open_engine(ctx, workspace)
    targets = eng.list_compute_targets()
    show(output_format, [compute_document(t) for t in targets], lambda: print_table(
        [{"name": t.name, "type": t.type, "source": "built-in" if t.builtin else "created",
          "settings": ", ".join(f"{k}={v}" for k, v in t.config.items()) or None,
          "description": t.description} for t in targets],
        ["name", "type", "source", "settings", "description"]))


@compute_group.command("show")
@click.option("-n", "--name", required=True, help="NAME or azureml:NAME")
@workspace_option
@OUTPUT
@click.pass_context
def compute_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one compute target (built in or created)."""
    eng = open_engine(ctx, workspace)
    target = eng.get_compute_target(name)
    doc = compute_document(target)
    if target.type == "slurm":  # Slurm hands out the nodes and GPUs: show what sinfo/squeue say
        _show_slurm(eng, target, doc, output_format)
        return
    report = eng.gpu_report(target)  # this machine's GPUs, or the SSH host's (asked over SSH)
    gpus = [{"index": g.index, "name": g.name, "memory_total_mib": g.memory_total_mib,
             "memory_used_mib": g.memory_used_mib, "utilization_percent": g.utilization_percent,
             "used_by": report.used_by.get(g.index)} for g in report.inventory.gpus]

    def human() -> None:
        print_fields(doc, 21, blank=(None, ""))
        lines = report.lines()
        where = "GPUs (SSH host):" if target.type == "ssh" else "GPUs (this machine):"
        for i, line in enumerate(lines):
            click.echo(f"{where if i == 0 else '':21} {line}")
        if report.waiting:
            click.echo(f"{'waiting for GPUs:':21} {', '.join(report.waiting)}")

    show(output_format, {**doc, "gpus_here": {"gpus": gpus, "note": report.inventory.note or None,
                                              "runs_waiting": list(report.waiting)}}, human)


@compute_group.command("delete")
@click.option("-n", "--name", required=True, help="NAME or azureml:NAME")
@workspace_option
@OUTPUT
@click.pass_context
def compute_delete(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Delete a created compute target (jobs that ran on it keep its name)."""
    eng = open_engine(ctx, workspace)
    target = eng.delete_compute_target(name.removeprefix("azureml:"))
    show(output_format, {**compute_document(target), "deleted": True}, f"Deleted compute target {target.name}")


def _show_slurm(eng: Any, target: Any, doc: dict[str, Any], output_format: str) -> None:
    view = eng.slurm_overview(target)
    cluster = {"partitions": view.partitions, "nodes": view.nodes, "node_states": view.node_counts(),
               "queue": view.queue, "error": view.error}

    def human() -> None:
        print_fields(doc, 21, blank=(None, ""))
        if view.error:
            click.echo(f"{'cluster:':21} {view.error}")
            return
        counts = ", ".join(f"{n} {state}" for state, n in sorted(view.node_counts().items()))
        click.echo(f"{'nodes:':21} {counts or 'none'}")
        click.echo("partitions:")
        print_table(view.partitions, ["partition", "avail", "timelimit", "nodes", "state", "gres"])
        click.echo("nodes:")
        print_table(view.nodes, ["name", "partition", "state", "cpus", "gres"])
        click.echo("your queue:" if view.queue else "your queue: empty")
        if view.queue:
            print_table(view.queue, ["job_id", "name", "state", "reason", "partition", "time", "nodes"])

    show(output_format, {**doc, "cluster": cluster}, human)
