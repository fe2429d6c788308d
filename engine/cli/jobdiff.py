"""`trainyard job diff`'s human form: the differences of two runs, one section at a time."""

from __future__ import annotations

from typing import Any

import click

LIMIT = 60  # values longer than this are cut in the table form (-o json has them whole)


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."


def print_diff(diff: Any) -> None:
    click.echo(f"{diff.a} -> {diff.b}" + ("  (no differences)" if diff.identical else ""))
    if diff.packages:
        click.echo(
            f"environment packages ({len(diff.packages)} differ; lock {diff.locks[0]} -> {diff.locks[1]}):"
        )
        for change in diff.packages:
            click.echo(f"  {change.describe()}")
    if diff.fields:
        click.echo("differences:")
        width = max(len(f"{f.section}.{f.key}") for f in diff.fields) + 2
        for f in diff.fields:
            click.echo(f"  {f'{f.section}.{f.key}':{width}} {_short(f.a)}  ->  {_short(f.b)}")
    code = diff.code
    if code is not None and code.changes:
        click.echo(f"code ({len(code.changes)} file(s) differ, {code.unchanged} the same):")
        for c in code.changes:
            click.echo(f"  {c.change:8} {c.path} (+{c.added_lines} -{c.removed_lines})")
    elif code is not None:
        click.echo(f"code: the same ({code.unchanged} file(s))")
    elif diff.code_note:
        click.echo(f"code: {diff.code_note}")
    same = ", ".join(f"{n} {section}" for section, n in sorted(diff.same.items()))
    if same:
        click.echo(f"the same: {same}")
    for note in diff.notes:
        click.echo(f"note: {note}")
