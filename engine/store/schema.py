"""Bring a database to the current schema with Alembic (only when it is behind)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from engine.errors import WorkspaceError

if TYPE_CHECKING:
    from alembic.config import Config  # imported when needed: Alembic costs ~100 ms

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions; checked by a test so it cannot drift.
HEAD_REVISION = "0004_parent_runs"


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
    rev = current_revision(engine)
    if rev == HEAD_REVISION:
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
            return
        if rev is not None and rev not in known:
            raise WorkspaceError(
                f"the workspace database is at schema revision {rev!r}, which this Trainyard does not know",
                "it was written by a newer Trainyard: upgrade Trainyard, or use another workspace",
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
