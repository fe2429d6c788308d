"""`trainyard component ...`: register, list and show command components (Azure ML's
`az ml component`)."""

from __future__ import annotations

from typing import Any

import click

from engine import entities as E
from engine.cli.options import OUTPUT, open_engine, workspace_option
from engine.cli.output import print_fields, print_table, show

SHOWN_FIELDS = (
    "name",
    "version",
    "display_name",
    "description",
    "command",
    "environment",
    "snapshot_id",
    "is_deterministic",
    "creation_time",
)


@click.group("component")
def component_group() -> None:
    """Register, list and show command components (reusable pipeline steps)."""


def component_document(spec: Any) -> dict[str, Any]:
    doc = spec.to_dict()
    doc["environment"] = spec.environment or (
        spec.environment_spec.reference if spec.environment_spec else None
    )
    doc.pop("environment_spec", None)
    doc["creation_time"] = E.iso(spec.created_at)
    doc["type"] = "command"
    return doc


@component_group.command("create")
@click.option("-f", "--file", "file", required=True, type=click.Path(dir_okay=False), help="component YAML")
@workspace_option
@OUTPUT
@click.pass_context
def component_create(ctx: click.Context, file: str, workspace: str | None, output_format: str) -> None:
    """Register a command component YAML as the next version of its name (or its `version:`);
    its code folder is snapshotted now. Pipelines name it `component: azureml:NAME@latest`."""
    # The component reader loads pydantic and PyYAML: only this command pays for them.
    from engine.specs.component import load_component_file

    eng = open_engine(ctx, workspace)
    spec = eng.create_component(
        load_component_file(file), on_warning=lambda msg: click.echo(f"warning: {msg}", err=True)
    )
    show(output_format, lambda: component_document(spec), f"Registered component {spec.name}:{spec.version}")


@component_group.command("list")
@click.option("--name", default=None, help="only this name (all its versions)")
@workspace_option
@OUTPUT
@click.pass_context
def component_list(ctx: click.Context, name: str | None, workspace: str | None, output_format: str) -> None:
    """List registered components (every version)."""
    eng = open_engine(ctx, workspace)
    specs = eng.list_components(name)
    show(
        output_format,
        [component_document(s) for s in specs],
        lambda: print_table(
            [
                {
                    "name": s.name,
                    "version": s.version,
                    "display_name": s.display_name or "",
                    "created": E.iso(s.created_at),
                    "description": s.description,
                }
                for s in specs
            ],
            ["name", "version", "display_name", "created", "description"],
            empty=f"No component named {name!r}." if name else "No components.",
        ),
    )


@component_group.command("show")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION, NAME@latest or azureml:NAME...")
@workspace_option
@OUTPUT
@click.pass_context
def component_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one component version (default: the latest), with its inputs and outputs."""
    from engine.names import parse_reference

    eng = open_engine(ctx, workspace)
    ref = parse_reference(name)
    spec = eng.get_component(ref.name, ref.version)
    doc = component_document(spec)

    def human() -> None:
        print_fields(doc, 17, SHOWN_FIELDS)
        for direction in ("inputs", "outputs"):
            if doc[direction]:
                click.echo(f"{direction}:")
                for n, d in doc[direction].items():
                    extra = f" = {d['default']!r}" if d.get("default") is not None else ""
                    click.echo(
                        f"  {n}: {d.get('type')}{extra}" + (" (optional)" if d.get("optional") else "")
                    )

    show(output_format, doc, human)
