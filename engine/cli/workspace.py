"""`trainyard init` (make a workspace) and `trainyard python` (run a control script in one)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from engine.cli.options import OUTPUT, chosen_workspace, workspace_option
from engine.cli.output import show
from engine.errors import NotFound
from engine.runtime import CONTROL_SCRIPT_ENV, ENGINE_ROOT, INJECT_DIR
from engine.tracking.inject.trainyard_run.envvars import ENV_WORKSPACE
from engine.workspace import WorkspaceLocation, resolve_workspace


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("--store-url", default=None, help="SQLAlchemy URL of the store (default: SQLite in the folder)")
@click.option("--shared-dir", default=None, type=click.Path(file_okay=False),
              help="team workspace: the folder on a shared filesystem for runs, snapshots, models and data "
                   "(mounted at the same path on every machine; needs a PostgreSQL --store-url)")
@OUTPUT
def init(path: str | None, store_url: str | None, shared_dir: str | None, output_format: str) -> None:
    """Create a workspace folder (PATH, default: the current folder). With --store-url and
    --shared-dir it joins a team workspace (docs/team-workspace.md)."""
    # engine.api loads SQLAlchemy and the store: only commands that open a workspace pay for it.
    from engine.api import Engine

    loc = WorkspaceLocation(Path(path or ".").absolute()).ensure(store_url, shared_dir)
    Engine(loc).close()
    shared = loc.shared_dir
    show(output_format, {"workspace": str(loc.folder), "storage": str(loc.storage), "store_url": loc.store_url,
                         "shared_dir": str(shared) if shared else None},
         f"Initialized a Trainyard workspace in {loc.folder} (store: {loc.store_url}"
         + (f"; shared folder: {shared})" if shared else ")"))


@click.command("python", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@workspace_option
@click.pass_context
def python_cmd(ctx: click.Context, script: str, args: tuple[str, ...], workspace: str | None) -> None:
    """Run a control script written for the Azure ML SDK v1 against this workspace."""
    if not Path(script).is_file():
        raise NotFound(f"the control script {script!r} does not exist", "give the path of a .py file")
    loc = resolve_workspace(chosen_workspace(ctx, workspace)).ensure()
    env = dict(os.environ)
    env[ENV_WORKSPACE] = str(loc.folder)
    env[CONTROL_SCRIPT_ENV] = str(Path(script).resolve())
    env["PYTHONPATH"] = os.pathsep.join(
        [str(INJECT_DIR), ENGINE_ROOT, *filter(None, [env.get("PYTHONPATH")])])
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, script, *args], env)
