"""What every command shares: the -o and -w options, opening the workspace's engine, and reading
`NAME[:VERSION|@latest]` references.

Engine modules that load SQLAlchemy or pydantic (engine.api, engine.specs) are imported inside
the commands that need them: `trainyard --help` starts in well under 0.1 s and a command pays
only for what it uses."""

from __future__ import annotations

from typing import Any

import click

from engine.errors import InvalidSpec

OUTPUT = click.option("-o", "--output", "output_format", type=click.Choice(["table", "json"]),
                      default="table", show_default=True, help="json: one JSON document on stdout")


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
