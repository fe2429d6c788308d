"""The SQLAlchemy engine and sessions every part of SqlStore shares: SQLite (WAL) by default, any
SQLAlchemy URL through the same code."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import WorkspaceError
from engine.store.models import ComponentRow, DataAssetRow, EnvironmentRow, ModelRow
from engine.store.schema import ensure_schema


def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:  # dbapi_conn: a sqlite3.Connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    _ensure_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _ensure_wal(cur: Any, timeout: float = 30.0) -> None:
    """WAL mode is stored in the file, so it is set once; switching needs an exclusive lock and
    SQLite does not wait for it (no busy handler), so several processes opening a new workspace
    at once retry here instead of failing with "database is locked"."""
    import sqlite3

    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_dumps_strict(obj: Any) -> str:
    """JSON for servers that reject NaN/Infinity (PostgreSQL's json type): non-finite floats
    in a logged list/row/table become null instead of failing the whole ingestion batch."""
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False)


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine for `url`: SQLite with WAL and a busy timeout, other servers with
    connection checks and NaN-safe JSON."""
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps_strict)


class SqlBase:
    """One workspace database: its engine, and a new managed session for each public call."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        try:
            if migrate:
                ensure_schema(self.engine)
        except OperationalError as exc:
            raise WorkspaceError(
                f"cannot open the workspace store at {url}: {exc.orig}",
                "check that the folder is writable (or the database server reachable)",
            ) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return self._sessions()


Versioned = type[ModelRow] | type[DataAssetRow] | type[EnvironmentRow] | type[ComponentRow]


def version_row(s: Session, table: Versioned, name: str, version: int | None) -> Any:
    """The row of `name` at `version` (None: the latest) in a table of named versions, or None."""
    q = select(table).where(table.name == name)
    q = q.where(table.version == version) if version is not None else q.order_by(table.version.desc())
    return s.scalars(q.limit(1)).first()
