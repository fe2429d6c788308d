"""What every command shares: the -o and -w options, opening the workspace's engine, and reading
`NAME[:VERSION|@latest]` references.

Engine modules that load SQLAlchemy or pydantic (engine.api, engine.specs) are imported inside
the commands that need them: `trainyard --help` starts in well under 0.1 s and a command pays
only for what it uses."""

from __future__ import annotations

from typing import Any

import click

from engine.errors import InvalidSpec

OUTPUT_FORMATS = ("table", "json", "yaml", "tsv", "none")
QUERY_KEY = "trainyard.query"  # where --query waits for engine.cli.output.show (ctx.meta)


def _remember_query(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    ctx.meta[QUERY_KEY] = value
    return value


def OUTPUT(fn: Any) -> Any:
    """-o/--output and --query, as the Azure CLI has them on every command that shows something
    (engine.cli.output.show applies them)."""
    fn = click.option("--query", default=None, metavar="JMESPATH", expose_value=False, callback=_remember_query,
                      help="a JMESPath query on the JSON document, e.g. --query name -o tsv "
                           "(https://jmespath.org)")(fn)
    return click.option("-o", "--output", "output_format", type=click.Choice(OUTPUT_FORMATS), default="table",
                        show_default=True,
                        help="json or yaml: the whole document; tsv: values only, tab-separated (for "
                             "shell scripts); none: nothing")(fn)


def workspace_option(fn: Any) -> Any:
    return click.option("-w", "--workspace", "workspace", default=None, metavar="PATH",
                        help="workspace folder (else $TRAINYARD_WORKSPACE, the nearest .trainyard/ upward, "
                             "or the per-user default)")(fn)


def chosen_workspace(ctx: click.Context, workspace: str | None) -> str | None:
    """The command's -w, else the one given before the command (`trainyard -w PATH job list`)."""
    return workspace or (ctx.find_root().obj or {}).get("workspace")


def open_engine(ctx: click.Context, workspace: str | None = None) -> Any:
    # engine.api loads SQLAlchemy and the store (~0.4 s): only commands that open a workspace pay
    # for it, not `--help` or `trainyard python`.
    from engine.api import Engine

    return Engine.open(chosen_workspace(ctx, workspace))


def open_reader(ctx: click.Context, workspace: str | None = None) -> Any:
    """For commands that only read runs (job list, job show): engine.lookup when it can answer
    (the standard library's sqlite3, no SQLAlchemy: ~0.1 s in all), else the Engine."""
    from engine.lookup import open_lookup

    return open_lookup(chosen_workspace(ctx, workspace)) or open_engine(ctx, workspace)


def name_version(ref: str) -> tuple[str, int | None]:
    """`NAME`, `NAME:VERSION`, `NAME@latest` (with or without `azureml:`) -> (name, version or None)."""
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
