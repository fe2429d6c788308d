"""The bundle's entry point: the `trainyard` command (studio with no command, else the CLI)."""

import sys

from engine.entry import run_supervisor_if_asked
from studio.launch import main

if __name__ == "__main__":
    run_supervisor_if_asked(sys.argv)  # the bundle starts each run's supervisor as itself
    main()
