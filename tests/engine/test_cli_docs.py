"""docs/cli.md names every `trainyard` command (regenerate it with scripts/cli_reference.py)."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.main import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _paths(group: click.Group, at: tuple[str, ...] = ()) -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the top-level group imports its commands on demand
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        out += _paths(cmd, (*at, name)) if isinstance(cmd, click.Group) else [" ".join((*at, name))]
    return out


def test_every_command_is_in_docs_cli_md() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [p for p in sorted(_paths(cli)) if f"## `trainyard {p}`" not in text]
    assert not missing, f"not in docs/cli.md: {missing}; run `python scripts/cli_reference.py > docs/cli.md`"
