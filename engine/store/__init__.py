"""The workspace store: pick an implementation by URL (SQLAlchemy covers SQLite and PostgreSQL)."""

from engine.store.sql import SqlStore

__all__ = ["SqlStore", "open_store"]


def open_store(url: str) -> SqlStore:
    return SqlStore(url)
