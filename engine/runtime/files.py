"""The layout of one run's folder (the same for every compute target).

    spec.json                   what the supervisor launches
    wd/                         working directory: the materialized snapshot
    tracking/                   record files written by the in-run client (+ files/)
    azureml-logs/70_driver_log.txt   stdout+stderr of the script (Azure's name, users know it)
    azureml-logs/20_image_build_log.txt   the environment build (or image pull) before the script
    azureml-logs/.70_driver_log.txt.stderr   which bytes of the log came from stderr (engine.runtime.stderrmarks)
    logs/                       live copy of the script's ./logs
    outputs/                    the script's ./outputs, collected at Finalizing
    supervisor.log              the supervisor's own diagnostics
    driver_log.times            when the driver log grew, as the supervisor saw it (engine.runs.lineclock)
    environment.lock.json       the exact packages the run's environment had (engine.environments.lock)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DRIVER_LOG = "70_driver_log.txt"
BUILD_LOG = "20_image_build_log.txt"


@dataclass(frozen=True)
class RunFiles:
    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def wd(self) -> Path:
        return self.root / "wd"

    @property
    def tracking(self) -> Path:
        return self.root / "tracking"

    @property
    def system_logs(self) -> Path:
        return self.root / "azureml-logs"

    @property
    def driver_log(self) -> Path:
        return self.system_logs / DRIVER_LOG

    @property
    def driver_log_times(self) -> Path:
        return self.root / "driver_log.times"

    @property
    def build_log(self) -> Path:
        return self.system_logs / BUILD_LOG

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def environment_lock(self) -> Path:
        return self.root / "environment.lock.json"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def bin(self) -> Path:
        """`python`/`python3` links to the run's interpreter, first on the run's PATH."""
        return self.root / "bin"
