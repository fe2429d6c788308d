"""`trainyard` entry point: the command groups (one module each) under one `cli` group, and the
CLI's one presenter of errors. Every user error is a TrainyardError: message + hint, exit code 1."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading
from typing import NoReturn

import click

from engine.cli.options import workspace_option
from engine.errors import TrainyardError

# Each command's module is imported when that command runs (or help lists them all):
# `trainyard job list` loads neither the compute nor the model commands (≤ 150 ms in all).
COMMANDS = {
    "init": "engine.cli.workspace:init",
    "job": "engine.cli.jobs:job",
    "model": "engine.cli.models:model",
    "data": "engine.cli.models:data",
    "environment": "engine.cli.environments:environment_group",
    "compute": "engine.cli.compute:compute_group",
    "component": "engine.cli.components:component_group",
    "python": "engine.cli.workspace:python_cmd",
}


class LazyGroup(click.Group):
    """The top-level group: its commands are named in COMMANDS and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@workspace_option
@click.version_option(package_name="trainyard")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """Trainyard: train machine-learning models on your own machines.

    `trainyard` with no command opens the studio window (`trainyard --screenshot FILE
    [--page NAME] [--run NAME]` renders a page of it to a PNG).
    """
    ctx.obj = {"workspace": workspace}


def report_error(exc: TrainyardError) -> NoReturn:
    """Say what went wrong and what to do on stderr (no traceback), and exit non-zero."""
    click.echo(f"error: {exc}", err=True)  # a TrainyardError reads "message", then "  hint: ..."
    sys.exit(exc.exit_code)


def main(argv: list[str] | None = None) -> NoReturn:
    # A closed pipe (trainyard job list | head) is not an error worth a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        try:
            cli.main(args=argv, prog_name="trainyard", standalone_mode=True)
        except TrainyardError as exc:
            report_error(exc)
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: object) -> NoReturn:
    """Exit as `sys.exit(code)` would, without tearing the interpreter down: once the command's
    threads, atexit handlers and output are done, nothing is left to do but freeing the modules
    (SQLAlchemy, pydantic), which took ~0.2 s after `job create --stream` printed its last line."""
    if isinstance(code, str):  # sys.exit("message"): printed, exit code 1
        sys.stderr.write(code + "\n")
    status = code if isinstance(code, int) else (0 if code is None else 1)
    for thread in threading.enumerate():  # what the interpreter would wait for before exiting
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # temporary folders, logging, weakref finalizers
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
