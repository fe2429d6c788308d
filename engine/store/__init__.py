"""The workspace store: the `Store` protocol (engine.store.protocol) and its implementation over
SQLAlchemy (engine.store.sql, SQLite and PostgreSQL), picked by URL; `engine.store.lite`, the
standard-library reader behind the commands that must answer at once. Only this package imports
SQLAlchemy, and only when a SqlStore is asked for: importing engine.store.lite must not load it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.store.protocol import Store

if TYPE_CHECKING:
    from engine.store.sql import SqlStore

__all__ = ["SqlStore", "Store", "open_store"]


def __getattr__(name: str) -> Any:
    if name == "SqlStore":  # SQLAlchemy costs ~0.3 s to import: only when a full store is opened
        from engine.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str) -> Store:
    from engine.store.sql import SqlStore

    return SqlStore(url)
