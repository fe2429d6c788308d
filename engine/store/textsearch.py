"""The runs table's filter box on SQLite: a trigram full-text index (FTS5) of what it matches.

Migration 0007 builds `runs_search` (and the triggers that keep it in step with `runs`): one row
per run that is not archived, its name, display name, status, experiment, compute and tags. A
phrase query of the filter text finds the runs holding it as a substring, case-insensitively, as
the LIKE scan did, in milliseconds on a million runs instead of a second. Text shorter than three
characters has no trigram: it is still scanned with LIKE, as are archived runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SEARCH_TABLE", "WALK_INDEXES", "has_search_index", "match_phrase", "unmodeled"]

SEARCH_TABLE = "runs_search"
# The indexes that walk runs by start (the runs table's default sort) and by name, built by
# migration 0007: expression indexes, so they live beside the ORM's models rather than in them.
WALK_INDEXES = {"start": "ix_runs_start", "name": "ix_runs_name"}


def unmodeled(name: str | None) -> bool:
    """Whether a schema object is one of these (the ORM models do not describe them, so a
    comparison of the database with the models leaves them out)."""
    return bool(name) and (name in WALK_INDEXES.values() or str(name).startswith(SEARCH_TABLE))


def match_phrase(text: str) -> str | None:
    """The FTS5 query that finds `text` as a substring, or None when it is too short for
    trigrams (fewer than three characters)."""
    if len(text) < 3:
        return None
    return '"' + text.replace('"', '""') + '"'


def has_search_index(conn: Any) -> bool:
    """Whether this SQLite database has the index (an SQLite built without FTS5 has not)."""
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SEARCH_TABLE,)).first() is not None
