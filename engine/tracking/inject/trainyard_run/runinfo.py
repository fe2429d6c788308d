"""What a script can read about its own run: its metrics and its files (``run.get_metrics``,
``run.get_file_names``, ``run.download_file``). Standard library only (Python 3.6+).

The client reads what the engine reads, straight from the run's folder: the record files of
every process of the run (``recordformat``), the files the engine has already placed in the run
folder (uploads, ``logs/``, ``azureml-logs/``), the script's live ``./outputs`` and ``./logs``,
and uploads the engine has not placed yet. So a script sees what it logged a moment ago, and
what the run's other processes have written.
"""

import json
import os

from .recordformat import (
    JSONL_SUFFIX,
    KIND_IMAGE,
    KIND_KEY,
    KIND_LIST,
    KIND_ROW,
    KIND_SCALAR,
    KIND_TABLE,
    KIND_UPLOAD,
    SCALAR_RECORD,
    SCALARS_SUFFIX,
    TORN_KEY_ID,
)

__all__ = ["RunFolder", "metric_value"]

# The run folder's own entries, not files of the run (engine.runtime.files lays them out).
_INTERNAL = frozenset({"wd", "tracking", "bin", "spec.json", "spec.tmp", "supervisor.log"})
# The script's folders that become the run's (outputs/ at the end, logs/ live), read where they are.
_LIVE = ("outputs", "logs")


def metric_value(kind: str, values: list) -> object:
    """A metric as Azure ML's ``get_metrics`` gives it: a scalar logged once is its value, more
    often the list of its values; rows (``log_row``) merge into ``{column: [values]}``; a list,
    table or image is its last logged value."""
    if kind == KIND_SCALAR:
        return values[0] if len(values) == 1 else list(values)
    if kind == KIND_ROW:
        merged = {}  # type: dict
        for row in values:
            for col, v in row.items():
                merged.setdefault(col, []).append(v)
        return merged
    return values[-1]


class RunFolder:
    """One run's folder, read by the script inside it (``run_dir`` None: the tracking folder only)."""

    def __init__(self, tracking_dir: str, run_dir: "str | None") -> None:
        self.tracking_dir = tracking_dir
        self.run_dir = run_dir

    # ---- records -----------------------------------------------------------------------------

    def _writers(self) -> list:
        try:
            names = os.listdir(self.tracking_dir)
        except OSError:
            return []
        return sorted({n[: -len(s)] for n in names for s in (JSONL_SUFFIX, SCALARS_SUFFIX) if n.endswith(s)})

    def _lines(self, writer: str) -> list:
        try:
            with open(os.path.join(self.tracking_dir, writer + JSONL_SUFFIX), "rb") as f:
                data = f.read()
        except OSError:
            return []
        records = []
        for line in data.split(b"\n")[:-1]:  # the last piece is a line still being written
            try:
                rec = json.loads(line.decode("utf-8"))
            except ValueError:
                continue
            if isinstance(rec, list) and len(rec) >= 4 and isinstance(rec[0], int):
                records.append(rec)
        return records

    def _scalars(self, writer: str, keys: dict) -> list:
        try:
            with open(os.path.join(self.tracking_dir, writer + SCALARS_SUFFIX), "rb") as f:
                data = f.read()
        except OSError:
            return []
        size = SCALAR_RECORD.size
        found = []
        for seq, kid, _step, value, ts in SCALAR_RECORD.iter_unpack(data[: len(data) - len(data) % size]):
            if kid != TORN_KEY_ID and kid in keys:
                found.append((ts, seq, keys[kid], value))
        return found

    def metrics(self, name: "str | None" = None) -> dict:
        """``{key: value}`` of every metric the run's processes have written (see metric_value)."""
        points = []  # (ts, writer index, seq, kind, key, value)
        for w, writer in enumerate(self._writers()):
            keys = {}
            for rec in self._lines(writer):
                seq, kind = rec[0], rec[1]
                if kind == KIND_KEY:
                    keys[rec[2]] = rec[3]
                elif kind == KIND_SCALAR and len(rec) == 6:
                    points.append((rec[5], w, seq, KIND_SCALAR, rec[2], rec[3]))
                elif kind in (KIND_LIST, KIND_ROW, KIND_TABLE, KIND_IMAGE) and len(rec) == 6:
                    value = "tracking/" + rec[3] if kind == KIND_IMAGE else rec[3]
                    points.append((rec[4], w, seq, kind, rec[2], value))
            for ts, seq, key, value in self._scalars(writer, keys):
                points.append((ts, w, seq, KIND_SCALAR, key, value))
        points.sort(key=lambda p: (p[0], p[1], p[2]))
        by_key = {}  # type: dict
        for _ts, _w, _seq, kind, key, value in points:
            if name is not None and key != name:
                continue
            kinds = by_key.setdefault(key, {})
            kinds.setdefault(kind, []).append(value)
        out = {}
        for key, kinds in by_key.items():
            kind = KIND_SCALAR if KIND_SCALAR in kinds else next(iter(kinds))
            out[key] = metric_value(kind, kinds[kind])
        return out

    # ---- files -------------------------------------------------------------------------------

    def pending_uploads(self) -> dict:
        """``{name in the run: stored file}`` of uploads the engine has not placed in the run yet."""
        pending = {}
        for writer in self._writers():
            for rec in self._lines(writer):
                if rec[1] == KIND_UPLOAD and len(rec) == 5:
                    stored = os.path.join(self.tracking_dir, rec[3])
                    if os.path.isfile(stored):
                        pending[rec[2]] = stored
        return pending

    def _walk(self, base: str, prefix: str) -> dict:
        found = {}
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            for file in files:
                full = os.path.join(folder, file)
                found[prefix + os.path.relpath(full, base).replace(os.sep, "/")] = full
        return found

    def files(self) -> dict:
        """``{name in the run: where it is now}`` for every file of the run."""
        found = {}
        root = self.run_dir
        if root and os.path.isdir(root):
            for entry in sorted(os.listdir(root)):
                full = os.path.join(root, entry)
                if entry in _INTERNAL or entry.startswith("."):
                    continue
                if os.path.isdir(full):
                    found.update(self._walk(full, entry + "/"))
                elif os.path.isfile(full):
                    found[entry] = full
            for live in _LIVE:  # the script's own ./outputs and ./logs, before the engine collects them
                base = os.path.join(root, "wd", live)
                if os.path.isdir(base):
                    for name, full in self._walk(base, live + "/").items():
                        found.setdefault(name, full)
        found.update(self.pending_uploads())
        return found
