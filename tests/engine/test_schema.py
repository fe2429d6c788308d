"""Alembic migrations build exactly the ORM's schema, and the store knows the newest revision."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.errors import WorkspaceError
from engine.store.models import Base
from engine.store.schema import HEAD_REVISION, alembic_config, current_revision, ensure_schema
from engine.store.sql import SqlStore, make_engine
from engine.store.textsearch import SEARCH_TABLE, unmodeled

# Compare the database with the models, leaving out what the models do not describe.
MODELED = {"include_name": lambda name, type_, parent: not unmodeled(name)}


@pytest.fixture
def fresh_pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server_url: str = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    db = f"s_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        yield sa.engine.make_url(server_url).set(database=db).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return str(request.getfixturevalue("fresh_pg_url"))


def _upgrade_to_head(eng: sa.Engine) -> None:
    with eng.begin() as conn:
        cfg = alembic_config(conn)
        command.upgrade(cfg, "head")


def test_migrations_build_exactly_the_orm_schema(fresh_url: str) -> None:
    eng = make_engine(fresh_url)
    try:
        _upgrade_to_head(eng)
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, **MODELED}),
                                    Base.metadata)
            tables = set(sa.inspect(conn).get_table_names())
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("runs")}
        assert diff == []
        search = {t for t in tables if unmodeled(t)}
        assert tables - search == set(Base.metadata.tables) | {"alembic_version"}
        # The run search: the start index everywhere, the trigram index on SQLite (with FTS5).
        assert {"ix_runs_top"} <= indexes
        assert (SEARCH_TABLE in search) == fresh_url.startswith("sqlite")
        assert current_revision(eng) == HEAD_REVISION
    finally:
        eng.dispose()


def test_the_store_migrates_a_new_database_on_open(fresh_url: str) -> None:
    store = SqlStore(fresh_url)
    try:
        assert current_revision(store.engine) == HEAD_REVISION
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts=MODELED), Base.metadata) == []
        store.get_or_create_experiment("e")  # and it is usable
    finally:
        store.close()
    again = SqlStore(fresh_url)  # reopening an up-to-date database changes nothing
    try:
        assert [e.name for e in again.list_experiments()] == ["e"]
    finally:
        again.close()


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    heads = scripts.get_heads()
    assert heads == [HEAD_REVISION], "update HEAD_REVISION in engine/store/schema.py"
    assert scripts.get_current_head() == HEAD_REVISION


def test_a_database_from_a_newer_trainyard_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    SqlStore(url).close()
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
            conn.exec_driver_sql("PRAGMA user_version = 9999")  # as a newer Trainyard stamps it
        with pytest.raises(WorkspaceError) as info:
            ensure_schema(eng)
        assert "9999_future" in info.value.message
        assert info.value.hint is not None and "upgrade Trainyard" in info.value.hint
    finally:
        eng.dispose()


def test_sqlite_store_uses_wal_mode(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        store.get_or_create_experiment("e")
        assert (tmp_path / "wal.db-wal").exists()
    finally:
        store.close()
    # WAL is a property of the database file: a plain connection sees it too.
    raw = sa.create_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with raw.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        raw.dispose()


def test_concurrent_first_opens_migrate_once(fresh_url: str) -> None:
    """Several processes (CLI, studio, supervisors) may open a brand-new store at the same time."""
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            SqlStore(fresh_url).close()
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 45
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "opening the store hung"
    assert errors == []
    store = SqlStore(fresh_url)
    try:
        assert current_revision(store.engine) == HEAD_REVISION
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts=MODELED), Base.metadata) == []
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        store.close()
