"""`trainyard environment ...`: register, list, show and prune environments."""

from __future__ import annotations

from typing import Any

import click

from engine import entities as E
from engine.cli.options import OUTPUT, open_engine, workspace_option
from engine.cli.output import print_fields, print_table, show

SHOWN_FIELDS = ("name", "version", "kind", "curated", "description", "image", "build_context", "conda_source",
                "pip_source", "interpreter_path", "creation_time")


@click.group("environment")
def environment_group() -> None:
    """Register, list and show environments (registered and curated)."""


def environment_document(spec: Any, created_at: float | None = None) -> dict[str, Any]:
    doc = spec.to_dict()
    doc.update(reference=spec.reference, kind=spec.kind, curated=bool(spec.curated))
    if created_at is not None:
        doc["creation_time"] = E.iso(created_at)
    return doc


@environment_group.command("create")
@click.option("-f", "--file", "file", default=None, type=click.Path(dir_okay=False), help="environment YAML")
@click.option("--from-run", "from_run", default=None, metavar="RUN",
              help="register RUN's environment locked to the exact packages RUN ran with")
@click.option("-n", "--name", default=None, help="with --from-run: the name (default: the environment's name "
                                                 "+ '-locked')")
@workspace_option
@OUTPUT
@click.pass_context
def environment_create(ctx: click.Context, file: str | None, from_run: str | None, name: str | None,
                       workspace: str | None, output_format: str) -> None:
    """Register an environment YAML as the next version of its name (or its `version:`), or a
    run's locked environment with --from-run."""
    if (file is None) == (from_run is None):
        raise click.UsageError("give either -f/--file ENVIRONMENT_YAML or --from-run RUN (not both)")
    if name is not None and from_run is None:
        raise click.UsageError("-n/--name goes with --from-run (a YAML names its environment itself)")
    eng = open_engine(ctx, workspace)
    if from_run is not None:
        env = eng.register_environment_from_run(from_run, name)
    else:
        # The environment YAML reader loads pydantic and PyYAML: only this command pays for them.
        from engine.specs.environment import load_environment_yaml

        assert file is not None
        env = eng.register_environment(load_environment_yaml(file))
    show(output_format, lambda: environment_document(env, eng.environment_created_at(env.name, env.version)),
         f"Registered environment {env.name}:{env.version} ({env.kind})")


@environment_group.command("list")
@click.option("--name", default=None, help="only this name (all its versions)")
@workspace_option
@OUTPUT
@click.pass_context
def environment_list(ctx: click.Context, name: str | None, workspace: str | None, output_format: str) -> None:
    """List registered environments (all versions) and the curated ones."""
    eng = open_engine(ctx, workspace)
    specs = [s for s in eng.list_all_environments() if name is None or s.name == name]
    show(output_format,
         [{"name": s.name, "version": s.version, "kind": s.kind, "curated": s.curated,
           "description": s.description, "reference": s.reference} for s in specs],
         lambda: print_table([{"name": s.name, "version": s.version, "kind": s.kind,
                               "source": "curated" if s.curated else "registered", "description": s.description}
                              for s in specs], ["name", "version", "kind", "source", "description"],
                             empty=f"No environment named {name!r}." if name else "No environments."))


@environment_group.command("show")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION, NAME@latest or azureml:... reference")
@workspace_option
@OUTPUT
@click.pass_context
def environment_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one environment version (default: the latest), registered or curated."""
    eng = open_engine(ctx, workspace)
    spec = eng.resolve_environment(name)
    created = None if spec.curated else eng.environment_created_at(spec.name, spec.version)
    doc = environment_document(spec, created)
    show(output_format, doc, lambda: _print_environment(spec, doc))


def _print_environment(spec: Any, doc: dict[str, Any]) -> None:
    print_fields(doc, 17, SHOWN_FIELDS, blank=(None, ""))
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


@environment_group.command("lock")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION, NAME@latest or azureml:... reference")
@workspace_option
@OUTPUT
@click.pass_context
def environment_lock(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Print what an environment's build resolved to: the exact packages (pip freeze lines; for
    conda the @EXPLICIT list of package URLs and sha256; for Docker the image id and pip freeze)."""
    eng = open_engine(ctx, workspace)
    lock = eng.environment_lock(name)
    show(output_format, lock.to_dict, lambda: click.echo(lock.text.rstrip("\n")))


@environment_group.command("prune")
@click.option("--compute", "compute", default=None, metavar="NAME",
              help="Prune the environments built on this SSH target's host instead of this machine's.")
@workspace_option
@OUTPUT
@click.pass_context
def environment_prune(ctx: click.Context, compute: str | None, workspace: str | None, output_format: str) -> None:
    """Remove the built environments (venvs, conda envs, Docker images) that no active job uses;
    the next job that needs one builds it again."""
    eng = open_engine(ctx, workspace)
    if compute is not None:
        pruned = eng.prune_environments_on(compute)
        show(output_format, {"compute": compute, "host": pruned.host, "removed": pruned.removed,
                             "images": pruned.images, "in_use": sorted(pruned.in_use)},
             lambda: click.echo(f"Removed {len(pruned.removed)} environment(s)"
                                + (f" and {len(pruned.images)} image(s)" if pruned.images else "")
                                + f" from {pruned.host}"
                                + "".join(f"\n  {h[:12]}" for h in pruned.removed)
                                + "".join(f"\n  {t}" for t in pruned.images)))
        return
    removed, in_use = eng.prune_environments()
    show(output_format, {"removed": removed, "in_use": sorted(in_use)}, lambda: _print_pruned(removed, in_use))


def _print_pruned(removed: list[dict[str, Any]], in_use: Any) -> None:
    if not removed:
        click.echo("Nothing to remove." + (f" {len(in_use)} environment(s) in use by active jobs." if in_use else ""))
        return
    freed = sum(r.get("size") or 0 for r in removed)
    click.echo(f"Removed {len(removed)} built environment(s), {_mb(freed)} freed:")
    for r in removed:
        size = _mb(r["size"]) if r.get("size") else "image"
        click.echo(f"  {r['hash'][:12]}  {r['kind'] or '?':6}  {size:>9}  {r['image'] or r['prefix'] or '-'}")
    if in_use:
        click.echo(f"Kept {len(in_use)} in use by active jobs.")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
