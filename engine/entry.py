"""The entry point of Trainyard's own background processes: the process that owns one run folder.

`engine.runtime.supervisor_command` starts `main([prog, RUN_DIR])` detached: a run's supervisor
(engine.runs.supervisor), or, when the run's spec.json is a sweep's or a pipeline's, its controller
(engine.sweeps.controller, engine.pipelines.controller). With `--standby-fd=N` instead of RUN_DIR
it is started before its run exists and waits for the folder (engine.runs.standby). It sits at the
top of the engine, beside engine.api, so that nothing below it needs to know which process kinds
exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.runs.heartbeat import Heartbeat, beats_in
from engine.runs.standby import STANDBY_ARG, wait_for_run
from engine.runs.supervisor import Supervisor
from engine.runtime import SUPERVISOR_FLAG
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import read_spec


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m engine.entry RUN_DIR | --standby-fd=N\n")
        return 2
    if argv[1].startswith(STANDBY_ARG):  # started before its run: wait for it (engine.runs.standby)
        taken = wait_for_run(int(argv[1].removeprefix(STANDBY_ARG)))
        if taken is None:
            return 0
        run_dir = taken
    else:
        run_dir = Path(argv[1])
    spec = read_spec(RunFiles(run_dir).spec)
    # Engines of other machines see this process alive by its beats (engine.runs.heartbeat).
    if beats_in(spec.store_url):
        Heartbeat(spec.store_url, spec.run_name).start()
    # Deferred: a run's supervisor starts its script before any heavy import (SQLAlchemy comes
    # with the controllers' submit path).
    if spec.kind == "sweep":
        from engine.sweeps.controller import SweepController

        return SweepController(run_dir).run()
    if spec.kind == "pipeline":
        from engine.pipelines.controller import PipelineController

        return PipelineController(run_dir).run()
    return Supervisor(run_dir).run()


def run_supervisor_if_asked(argv: list[str]) -> None:
    """In a bundle: `trainyard --trainyard-supervisor RUN_DIR` is a supervisor, not the CLI."""
    if len(argv) == 3 and argv[1] == SUPERVISOR_FLAG:
        sys.exit(main([argv[0], argv[2]]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
