"""`--web` on `job create` and `job show`: open the run in the studio, as `az ml ... --web` opens
it in the browser. The studio starts as its own process, in its own session, and the command
goes on (a job being streamed is not held up by the window).

The studio is the `trainyard` program itself with studio options (`--workspace W --run NAME`);
TRAINYARD_STUDIO_COMMAND replaces the program (a command line; the options are appended), e.g.
for a test, or to open runs in a studio built elsewhere."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

from engine.links import run_link

ENV_STUDIO_COMMAND = "TRAINYARD_STUDIO_COMMAND"
# A studio that cannot open (no display, say) exits within this; one still running has opened.
STARTUP_CHECK_S = 3.0


def studio_program() -> list[str]:
    """How to start the studio from this process: the same program, or its `trainyard` script."""
    override = os.environ.get(ENV_STUDIO_COMMAND, "").strip()
    if override:
        return shlex.split(override)
    if getattr(sys, "frozen", False):  # the desktop bundle: the executable is `trainyard`
        return [sys.executable]
    script = Path(sys.executable).with_name("trainyard")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from studio.launch import main; main()"]


def studio_command(run_name: str, workspace_folder: Path) -> list[str]:
    return [*studio_program(), "--workspace", str(workspace_folder), "--run", run_name]


def open_in_studio(run_name: str, workspace_folder: Path, log: Path) -> None:
    """Start the studio on run `run_name`; say so on stderr, and say why if it did not open (its
    first error line). Never fails the command."""
    link = run_link(run_name, workspace_folder)
    command = studio_command(run_name, workspace_folder)
    click.echo(f"Opening job {run_name} in the studio ({link}; its messages: {log})", err=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        click.echo(f"note: the studio did not start ({exc}); open the link above later", err=True)
        return
    deadline = time.monotonic() + STARTUP_CHECK_S
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.returncode not in (None, 0):
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        why = next(
            (ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else f"exit {proc.returncode}"
        )
        click.echo(f"note: the studio did not open: {why.removeprefix('error: ')}", err=True)
