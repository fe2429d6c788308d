"""A read-only view of a SQLite workspace through the standard library's sqlite3, for the commands
that must answer at once (`trainyard job list`, `job show`): no SQLAlchemy, no Alembic, no ORM.

It reads the same tables as engine.store.sql and builds the same entities (`run_entity` is the one
row -> Run conversion both use). It trusts the schema stamp (engine.store.schema.SCHEMA_STAMP in
`PRAGMA user_version`) and nothing else: `open_reader` answers None for a database it cannot
vouch for (another server, a missing file, an older or newer stamp), and the caller opens the
full store instead, which migrates and stamps it.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.errors import NotFound

# engine.store.schema's SCHEMA_STAMP, restated because importing schema loads SQLAlchemy; a test
# checks that the two agree.
SCHEMA_STAMP = 7

_RUN_COLUMNS = (
    "name",
    "display_name",
    "status",
    "created_at",
    "run_dir",
    "description",
    "command",
    "arguments",
    "start_time",
    "end_time",
    "compute",
    "environment",
    "snapshot_id",
    "git",
    "inputs",
    "params",
    "tags",
    "properties",
    "exit_code",
    "error",
    "max_run_duration_seconds",
    "cancel_requested",
    "supervisor_pid",
    "parent_name",
    "supervisor_started",
)
_JSON_COLUMNS = frozenset({"arguments", "git", "inputs", "params", "tags", "properties"})
_SELECT = (
    f"SELECT {', '.join('r.' + c for c in _RUN_COLUMNS)}, e.name FROM runs r "
    "JOIN experiments e ON e.id = r.experiment_id"
)


def run_entity(row: Any, experiment_name: str, history: tuple[E.StatusEvent, ...] = ()) -> E.Run:
    """A run row (an ORM RunRow, or this module's decoded row: anything with the columns as
    attributes) as the Run entity."""
    return E.Run(
        name=row.name,
        experiment_name=experiment_name,
        display_name=row.display_name,
        status=row.status,
        created_at=row.created_at,
        run_dir=row.run_dir,
        description=row.description or "",
        command=row.command,
        arguments=tuple(row.arguments or ()),
        start_time=row.start_time,
        end_time=row.end_time,
        compute=row.compute,
        environment=row.environment,
        snapshot_id=row.snapshot_id,
        git=row.git,
        inputs=dict(row.inputs or {}),
        params=dict(row.params or {}),
        tags=dict(row.tags or {}),
        properties=dict(row.properties or {}),
        exit_code=row.exit_code,
        error=row.error,
        max_run_duration_seconds=row.max_run_duration_seconds,
        status_history=history,
        cancel_requested=bool(row.cancel_requested),
        supervisor_pid=row.supervisor_pid,
        parent_name=row.parent_name,
    )


class _Row:
    """One `runs` row with its JSON columns decoded, read by attribute as an ORM row is."""

    def __init__(self, values: Sequence[Any]) -> None:
        attrs = self.__dict__
        attrs.update(zip(_RUN_COLUMNS, values, strict=False))
        for col in _JSON_COLUMNS:
            attrs[col] = _json(attrs[col])


# Most rows hold empty JSON columns: decoding them without the json module is a third of `job list`.
_EMPTY_JSON: dict[str, Callable[[], Any]] = {"{}": dict, "[]": list, "null": lambda: None}


def _json(value: Any) -> Any:
    """A JSON column's value: SQLite gives its text, or a number (the column's NUMERIC affinity
    turns the text of a number into one)."""
    if not isinstance(value, str):
        return value
    empty = _EMPTY_JSON.get(value)
    return empty() if empty is not None else json.loads(value)


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL; None for anything else (another server, memory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url or "?" in url:
        return None
    return Path(url[len(prefix) :])


def open_reader(url: str) -> LiteReader | None:
    """A reader of the workspace database at `url`, or None when only the full store may open it."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_STAMP:
            conn.close()
            return None
    except sqlite3.Error:
        return None
    return LiteReader(conn)


class LiteReader:
    """The read-only queries of the fast commands, answering as SqlStore's methods of the same name."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def close(self) -> None:
        self._conn.close()

    def _runs(self, where: str, args: Iterable[Any] = (), tail: str = "") -> list[tuple[_Row, str]]:
        cur = self._conn.execute(f"{_SELECT} {where} {tail}", tuple(args))
        return [(_Row(v), v[-1]) for v in cur.fetchall()]

    def get_run(self, name: str) -> E.Run:
        found = self._runs("WHERE r.name = ?", (name,))
        if not found:
            names = [
                n
                for (n,) in self._conn.execute(
                    "SELECT name FROM runs ORDER BY created_at DESC LIMIT 5000"
                ).fetchall()
            ]
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "list jobs with `trainyard job list`"
            raise NotFound(f"no job named {name!r} in this workspace", hint)
        row, exp = found[0]
        events = self._conn.execute(
            "SELECT status, time FROM run_status_events WHERE run_name = ? ORDER BY id", (name,)
        ).fetchall()
        return run_entity(row, exp, tuple(E.StatusEvent(st, t) for st, t in events))

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        statuses: Iterable[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        include_archived: bool = False,
    ) -> list[E.Run]:
        clauses: list[str] = ["1 = 1"]
        args: list[Any] = []
        if experiment is not None:
            clauses.append("e.name = ?")
            args.append(experiment)
        wanted = list(statuses or ())
        if wanted:
            clauses.append(f"r.status IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        if not include_archived:
            clauses.append("r.archived = 0")
        tail = "ORDER BY r.created_at DESC LIMIT ? OFFSET ?"
        args.extend((-1 if limit is None else limit, offset))
        return [run_entity(r, exp) for r, exp in self._runs("WHERE " + " AND ".join(clauses), args, tail)]

    def list_children(self, name: str) -> list[E.Run]:
        if self._conn.execute("SELECT 1 FROM runs WHERE name = ?", (name,)).fetchone() is None:
            raise NotFound(f"no job named {name!r} in this workspace")
        return [
            run_entity(r, exp)
            for r, exp in self._runs("WHERE r.parent_name = ?", (name,), "ORDER BY r.created_at, r.name")
        ]

    def archived_among(self, names: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(names), 500):  # SQLite caps the number of bound parameters
            part = list(names[i : i + 500])
            found.update(
                n
                for (n,) in self._conn.execute(
                    f"SELECT name FROM runs WHERE archived = 1 AND name IN ({', '.join('?' * len(part))})",
                    part,
                )
            )
        return found

    def metric_summaries(self, run_name: str) -> list[E.MetricSummary]:
        rows = self._conn.execute(
            "SELECT key, kind, count, last_value, last_step, last_timestamp, min_value, max_value "
            "FROM metric_summaries WHERE run_name = ? ORDER BY key",
            (run_name,),
        ).fetchall()
        return [
            E.MetricSummary(key, kind, count, _json(last), step, ts, lo, hi)
            for key, kind, count, last, step, ts, lo, hi in rows
        ]

    def run_data(self, run_name: str) -> list[E.RunData]:
        """What the run consumed and produced (engine.store.sql.registry.Registry.run_data)."""
        rows = self._conn.execute(
            "SELECT run_name, direction, name, type, mode, path, asset_kind, asset_name, asset_version, "
            "content_hash, created_at FROM run_data WHERE run_name = ? ORDER BY id",
            (run_name,),
        ).fetchall()
        return [E.RunData(*row) for row in rows]

    def active_runs(self) -> list[tuple[str, int | None, float | None, float, dict[str, Any]]]:
        """(name, supervisor pid, supervisor start, created_at, properties) of every run not ended:
        what the caller needs to tell whether a supervisor died (engine.runs.control.reconcile)."""
        rows = self._conn.execute(
            f"SELECT name, supervisor_pid, supervisor_started, created_at, properties FROM runs "
            f"WHERE status IN ({', '.join('?' * len(E.ACTIVE_STATUSES))})",
            sorted(E.ACTIVE_STATUSES),
        ).fetchall()
        return [(n, pid, started, created, _json(props) or {}) for n, pid, started, created, props in rows]
