"""What one refresh of the run detail reads, off the GUI thread. No Qt in this module.

The detail keeps a `FetchState` (what it already shows) and, at most once at a time, runs
`fetch(engine, state)` in the background; the returned `DetailUpdate` holds only what is new.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.runs.files import DRIVER_LOG, RunFiles
from studio.rundetail.logtail import LogTail

DRIVER_LOG_REL = f"azureml-logs/{DRIVER_LOG}"


@dataclass
class FetchState:
    name: str
    metric_counts: dict[str, int] = field(default_factory=dict)
    log_source: str = DRIVER_LOG_REL  # relative to the run folder; the GUI may change it
    log: LogTail | None = None  # touched only by the fetch in flight
    last_status: str | None = None
    outputs_listed_terminal: bool = False


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to outputs/
    size: int
    mtime: float


@dataclass(frozen=True)
class DetailUpdate:
    run: E.Run
    summaries: list[E.MetricSummary]
    histories: dict[str, E.MetricHistory]
    log_sources: list[str]  # relative paths in the run folder, driver log first
    log_source: str  # the file `log_text` was read from
    log_text: str
    outputs: list[OutputFile] | None  # None: unchanged since the last update


def log_sources(root: Path) -> list[str]:
    """The run's log files: the driver log, then the script's logs/, then the supervisor's."""
    files = RunFiles(root)
    found = [str(files.driver_log.relative_to(root))]
    for folder in (files.system_logs, files.logs):
        if folder.is_dir():
            for dirpath, _dirs, names in os.walk(folder):
                for n in sorted(names):
                    rel = str(Path(dirpath, n).relative_to(root))
                    if rel not in found:
                        found.append(rel)
    if files.supervisor_log.is_file():
        found.append(str(files.supervisor_log.relative_to(root)))
    return found


def list_outputs(root: Path, limit: int = 5000) -> list[OutputFile]:
    out_dir = RunFiles(root).outputs
    result: list[OutputFile] = []
    if not out_dir.is_dir():
        return result
    for dirpath, dirs, names in os.walk(out_dir):
        dirs.sort()
        for n in sorted(names):
            p = Path(dirpath, n)
            try:
                st = p.stat()
            except OSError:
                continue
            result.append(OutputFile(str(p.relative_to(out_dir)), st.st_size, st.st_mtime))
            if len(result) >= limit:
                return result
    return result


def fetch(engine: Any, state: FetchState) -> DetailUpdate:
    store = engine.store
    run = store.get_run(state.name)
    summaries = store.metric_summaries(state.name)
    histories = {}
    for s in summaries:
        if s.kind == "scalar" and state.metric_counts.get(s.key) != s.count:
            histories[s.key] = store.metric_history(state.name, s.key)
    root = Path(run.run_dir)
    source = state.log_source
    if state.log is None or state.log.path != root / source:
        state.log = LogTail(root / source)
    text = state.log.read()
    outputs = None
    if run.status != state.last_status or (run.is_terminal and not state.outputs_listed_terminal):
        outputs = list_outputs(root)
    return DetailUpdate(run, summaries, histories, log_sources(root), source, text, outputs)
