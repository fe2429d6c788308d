"""The workspace store: the `Store` protocol (engine.store.protocol) and its implementation over
SQLAlchemy (engine.store.sql, SQLite and PostgreSQL), picked by URL. Only this package imports
SQLAlchemy."""

from engine.store.protocol import Store
from engine.store.sql import SqlStore

__all__ = ["SqlStore", "Store", "open_store"]


def open_store(url: str) -> Store:
    return SqlStore(url)
