"""The `trainyard` command: no command opens the studio, anything else is the engine's CLI.

It lives in the studio package so that the engine never imports Qt or the studio."""

from __future__ import annotations

import sys

from engine.links import is_link, parse_link

STUDIO_OPTIONS = {"-w", "--workspace", "--screenshot", "--page", "--run", "--project"}


def wants_studio(argv: list[str]) -> bool:
    """True when argv holds only studio options (and their values), e.g. `trainyard -w ws`."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if name not in STUDIO_OPTIONS:
            return False
        i += 1 if "=" in arg else 2
    return True


def link_args(argv: list[str]) -> list[str] | None:
    """Studio arguments for `trainyard trainyard://runs/NAME?workspace=…` (the desktop's link handler)."""
    if len(argv) != 1 or not is_link(argv[0]):
        return None
    name, workspace = parse_link(argv[0])
    return [*(["--workspace", workspace] if workspace else []), "--run", name]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        args = link_args(args) or args
    except Exception as exc:  # noqa: BLE001 - a bad link: say so, like any other bad argument
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    # Each front end is imported only when chosen: a CLI command never loads Qt.
    if wants_studio(args):
        from studio.app import main as studio_main

        sys.exit(studio_main(args))
    from engine.cli.main import main as cli_main

    cli_main(args)
