"""The filtered, sorted and paged runs query behind browsers that must stay fast with 100,000 runs.

Only `engine/store/` uses this (ORM columns never leave the store); `SqlStore.query_runs`,
`SqlStore.count_runs` and friends build their statements from here.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Float, Select, String, and_, case, cast, func, or_
from sqlalchemy import text as sql_text
from sqlalchemy.orm import aliased

from engine import entities as E
from engine.store.models import ExperimentRow, MetricSummaryRow, RunRow
from engine.store.runsearch import as_number, json_text, looks_like_search, parse, where_search
from engine.store.textsearch import SEARCH_TABLE, match_phrase

# What a runs table can be sorted by (the store sorts; a view never holds every row).
RUN_SORTS = ("start", "name", "status", "experiment", "compute", "duration", "created", "tags")
# ... and "metric:KEY": the latest value of a scalar metric (runs without it come last).
METRIC_SORT = "metric:"
# ... and "param:KEY": a parameter's value, numbers numerically before text (runs without it last).
PARAM_SORT = "param:"


def where_runs(q: Select[Any], text: str, include_archived: bool, dialect: str = "sqlite", *,
               top_level: bool = False, search_index: bool = False, walk: bool = False) -> Select[Any]:
    """Add the filter: a case-insensitive substring of the name, display name, status,
    experiment, compute or tags (one text box, as users expect), or, when the text starts with
    metrics., params., tags. or attributes., a search in MLflow's syntax (engine.store.runsearch;
    InvalidSpec when it does not parse); archived runs hidden by default. `q` must already join
    ExperimentRow. `top_level` leaves out child runs (sweep trials, pipeline steps): a runs table
    that groups them under their parent. `search_index`: the SQLite database has the trigram index
    of those fields (engine.store.textsearch), which holds the runs not archived. `walk` (SQLite):
    the terms are written so that no index serves them (`+column`), which leaves SQLite one plan:
    walk the index of the ORDER BY and stop when the page is full."""
    plus = "+" if walk else ""
    if not include_archived:
        q = q.where(sql_text(f"{plus}runs.archived = 0") if walk else RunRow.archived.is_(False))
    if top_level:
        q = q.where(sql_text(f"{plus}runs.parent_name IS NULL") if walk else RunRow.parent_name.is_(None))
    text = text.strip()
    if looks_like_search(text):
        return where_search(q, parse(text), dialect)
    phrase = indexed_phrase(text, include_archived, search_index)
    if phrase is not None:
        return q.where(sql_text(f"{plus}runs.rowid IN (SELECT rowid FROM {SEARCH_TABLE} "
                                f"WHERE {SEARCH_TABLE} MATCH :phrase)").bindparams(phrase=phrase))
    if text:
        pattern = "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        columns = (RunRow.name, RunRow.display_name, RunRow.status, ExperimentRow.name, RunRow.compute, _tags_text())
        # SQLite's LIKE ignores ASCII case by itself (as its lower() does: ASCII only), and 100,000
        # rows filter 3x faster without a lower() per column; elsewhere ILIKE.
        if dialect == "sqlite":
            q = q.where(or_(*(col.like(pattern, escape="/") for col in columns)))
        else:
            q = q.where(or_(*(col.ilike(pattern, escape="/") for col in columns)))
    return q


def indexed_phrase(text: str, include_archived: bool, search_index: bool) -> str | None:
    """The trigram index's query for the filter `text`, or None where it cannot answer: no index,
    archived runs wanted (it leaves them out), text too short or in the search syntax."""
    text = text.strip()
    if not search_index or include_archived or not text or looks_like_search(text):
        return None
    return match_phrase(text)


def _tags_text() -> Any:
    """The tags as their JSON text (SQLite stores it; PostgreSQL's json type keeps it as given)."""
    return cast(RunRow.tags, String)


def sort_key(sort: str) -> Any:
    """The SQL expression of one sort; ValueError for an unknown one."""
    if sort == "start":  # not started yet: when it was submitted
        return func.coalesce(RunRow.start_time, RunRow.created_at)
    if sort == "created":
        return RunRow.created_at
    if sort == "name":
        return func.lower(RunRow.display_name)
    if sort == "status":  # lifecycle order, not alphabetical
        return case({s: i for i, s in enumerate(E.RUN_STATUSES)}, value=RunRow.status, else_=-1)
    if sort == "experiment":
        return func.lower(ExperimentRow.name)
    if sort == "compute":
        return func.lower(RunRow.compute)
    if sort == "duration":  # a running run's duration grows until now; not started: 0
        return func.coalesce(func.coalesce(RunRow.end_time, time.time()) - RunRow.start_time, 0.0)
    if sort == "tags":  # by the first tag's key, then its value, ...
        return func.lower(_tags_text())
    raise ValueError(f"unknown run sort {sort!r}; use one of {', '.join(RUN_SORTS)}")


def order_runs(q: Select[Any], sort: str, descending: bool, dialect: str = "sqlite") -> Select[Any]:
    """Sort by `sort`, then by submission time and name so that pages never overlap or skip."""
    def way(c: Any) -> Any:
        return c.desc() if descending else c.asc()

    if sort.startswith(PARAM_SORT) and len(sort) > len(PARAM_SORT):
        # Parameters are logged as text ('0.01', 'adam'): those that read as numbers sort as
        # numbers (1e-3 < 0.01 < 0.1), then the others by their text; runs without it come last.
        text = json_text(RunRow.params, sort[len(PARAM_SORT):], dialect)
        number = as_number(text, dialect)
        return q.order_by(text.is_(None).asc(), number.is_(None).asc(), way(number), way(func.lower(text)),
                          way(RunRow.created_at), way(RunRow.name))
    if sort.startswith(METRIC_SORT) and len(sort) > len(METRIC_SORT):
        summary = aliased(MetricSummaryRow)
        q = q.outerjoin(summary, and_(summary.run_name == RunRow.name,
                                      summary.key == sort[len(METRIC_SORT):], summary.kind == "scalar"))
        # last_value is JSON (text in SQLite, json in PostgreSQL): through text to a number.
        value = cast(cast(summary.last_value, String), Float)
        first = (value.is_(None).asc(), value.desc() if descending else value.asc())
        return q.order_by(*first, *(c.desc() if descending else c.asc() for c in (RunRow.created_at, RunRow.name)))
    cols = (sort_key(sort), RunRow.created_at, RunRow.name)
    if sort == "tags":  # runs without tags come last either way, as runs without a metric do
        q = q.order_by(case((_tags_text().in_(("{}", "null")), 1), else_=0))
    return q.order_by(*(c.desc() if descending else c.asc() for c in cols))
