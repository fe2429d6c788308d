"""What the runs table reads from the store, off the GUI thread: the query it shows and one
background read of blocks of rows (no Qt here)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine import entities as E
from engine.runtime.sweepresults import PRIMARY_METRIC, RUN_TYPE

BLOCK = 256  # rows per store read


@dataclass(frozen=True)
class RunQuery:
    """What the table shows: the store does the filtering and sorting."""

    text: str = ""
    sort: str = "start"
    descending: bool = True
    include_archived: bool = False

    @property
    def grouped(self) -> bool:
        """Children under their parents (no search: a search lists every run that matches)."""
        return not self.text.strip()


@dataclass
class Fetch:
    """What one background read returns (built on a worker thread)."""

    query: RunQuery
    blocks: dict[int, list[E.Run]]
    latest: dict[str, dict[str, float]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)
    child_counts: dict[str, int] = field(default_factory=dict)
    count: int | None = None
    total: int | None = None


def fetch(
    engine: Any, query: RunQuery, blocks: list[int], keys: list[str], *, count: bool, total: bool = True,
    known_count: int | None = None,
) -> Fetch:
    """Read blocks of rows (and the counts) of `query`. Runs off the GUI thread. `total=False`
    skips counting the unfiltered runs (typing in the filter box does not change that number).
    `known_count`: the rows `query` had when last counted, which lets the store read blocks near
    the end from that end (when `count` recounts, the new count is used)."""
    out = Fetch(query, {})
    top = query.grouped
    if count:
        # Counting a filter (tens of ms on a million runs) runs beside the first block's read: the
        # store's reads release the GIL, and a filtered block no longer waits for the count.
        with ThreadPoolExecutor(max_workers=1) as pool:
            counted = pool.submit(engine.count_runs, text=query.text, include_archived=query.include_archived,
                                  top_level=top)
            first = engine.query_runs(text=query.text, sort=query.sort, descending=query.descending,
                                      offset=blocks[0] * BLOCK, limit=BLOCK, include_archived=query.include_archived,
                                      top_level=top) if blocks and blocks[0] == 0 else None
            out.count = counted.result()
        if first is not None:
            out.blocks[0] = first
        if not query.text.strip():
            out.total = out.count
        elif total:
            out.total = engine.count_runs(include_archived=query.include_archived, top_level=True)
    for b in blocks:
        if b in out.blocks:
            continue
        out.blocks[b] = engine.query_runs(
            text=query.text,
            sort=query.sort,
            descending=query.descending,
            offset=b * BLOCK,
            limit=BLOCK,
            include_archived=query.include_archived,
            top_level=top,
            count=out.count if out.count is not None else known_count,
        )
    names = [r.name for rows in out.blocks.values() for r in rows]
    if top:
        out.child_counts = engine.child_counts(names, query.include_archived)
    if keys:
        out.latest = engine.latest_values(names, keys)
    if query.include_archived:
        out.archived = engine.archived_among(names)
    return out


def run_type(run: E.Run) -> str:
    """command, sweep, trial (a sweep's child), pipeline or step (another run's child); as the
    store's attributes.type search (engine.store.runsearch) tells them apart."""
    kind = run.properties.get(RUN_TYPE)
    if run.parent_name:
        return "trial" if run.properties.get(PRIMARY_METRIC) else "step"
    return str(kind) if kind in ("sweep", "pipeline") else "command"
