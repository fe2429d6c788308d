"""Bring a database to the current schema with Alembic (only when it is behind).

A SQLite workspace carries a schema stamp, `PRAGMA user_version` = the number of the head
revision, written with each upgrade: opening a current workspace reads that one integer and
neither inspects the tables nor imports Alembic (engine.store.lite, the standard-library reader,
trusts the same stamp)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError

from engine.errors import WorkspaceError

if TYPE_CHECKING:
    from alembic.config import Config  # imported when needed: Alembic costs ~100 ms

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions; checked by a test so it cannot drift.
HEAD_REVISION = "0007_run_search"
# The SQLite stamp of the head revision: its number (a newer Trainyard's stamp is larger).
SCHEMA_STAMP = int(HEAD_REVISION.split("_", 1)[0])


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    """Upgrade to head. Importing Alembic costs ~100 ms, so only do it when needed."""
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        with engine.connect() as conn:
            if conn.exec_driver_sql("PRAGMA user_version").scalar() == SCHEMA_STAMP:
                return
    rev = current_revision(engine)
    if rev == HEAD_REVISION:
        if sqlite:  # at head, written before the stamp existed: stamp it now (if the file is writable)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_STAMP}")
            except OperationalError:
                pass  # a read-only workspace still opens; it just keeps the slower check
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    known = {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}
    with engine.begin() as conn:
        # Two processes opening a new workspace at once must not both create the tables: take a
        # database-wide write lock, then look again (the other may have just migrated).
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7419027153)"))
        rev = _revision(conn)
        if rev == HEAD_REVISION:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_STAMP}")
            return
        if rev is not None and rev not in known:
            raise WorkspaceError(
                f"the workspace database is at schema revision {rev!r}, which this Trainyard does not know",
                "it was written by a newer Trainyard: upgrade Trainyard, or use another workspace",
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        if sqlite:  # in the same transaction as the upgrade: never a stamp without its tables
            conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_STAMP}")
