"""`trainyard` entry point: the command groups (one module each) under one `cli` group, and the
CLI's one presenter of errors. Every user error is a TrainyardError: message + hint, exit code 1."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

import click

from engine.cli.compute import compute_group
from engine.cli.environments import environment_group
from engine.cli.jobs import job
from engine.cli.models import data, model
from engine.cli.options import workspace_option
from engine.cli.workspace import init, python_cmd
from engine.errors import TrainyardError


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


for command in (init, job, model, data, environment_group, compute_group, python_cmd):
    cli.add_command(command)


def report_error(exc: TrainyardError) -> NoReturn:
    """Say what went wrong and what to do on stderr (no traceback), and exit non-zero."""
    click.echo(f"error: {exc}", err=True)  # a TrainyardError reads "message", then "  hint: ..."
    sys.exit(exc.exit_code)


def main(argv: list[str] | None = None) -> None:
    # A closed pipe (trainyard job list | head) is not an error worth a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        cli.main(args=argv, prog_name="trainyard", standalone_mode=True)
    except TrainyardError as exc:
        report_error(exc)


if __name__ == "__main__":
    main()
