"""Metrics: ingestion cursors, scalar chunks and summaries, logged objects, and the reads behind
plots and metric columns."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, CursorResult, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine import entities as E
from engine.errors import NotFound
from engine.store.models import IngestCursorRow, MetricChunkRow, MetricObjectRow, MetricSummaryRow, RunRow
from engine.store.sql.base import SqlBase

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# A chunk smaller than this absorbs the next batch of the same key, so a slow logger (one
# point per flush) still ends up with few, large chunks.
CHUNK_MERGE_BELOW = 4096

# numpy is imported by the calls that read or write points: opening a store (`job list`) does not load it.
_STEP = "<i8"
_F64 = "<f8"


class _CursorMoved(Exception):
    """Another ingestor advanced the cursor a batch was read from."""


class Metrics(SqlBase):
    """Metrics of runs."""

    def latest_values(self, run_names: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, float]]:
        """{run: {key: latest value}} of scalar metrics, in one query (for metric columns)."""
        if not run_names or not keys:
            return {}
        out: dict[str, dict[str, float]] = {}
        with self._session() as s:
            rows = s.execute(
                select(MetricSummaryRow.run_name, MetricSummaryRow.key, MetricSummaryRow.last_value)
                .where(MetricSummaryRow.run_name.in_(list(run_names)), MetricSummaryRow.key.in_(list(keys)),
                       MetricSummaryRow.kind == "scalar")
            ).all()
        for run, key, value in rows:
            if isinstance(value, (int, float)):
                out.setdefault(run, {})[key] = float(value)
        return out

    def metric_keys(self, limit: int = 500) -> list[str]:
        """The distinct scalar metric keys of the workspace, sorted (to choose table columns)."""
        with self._session() as s:
            return list(s.scalars(
                select(MetricSummaryRow.key).where(MetricSummaryRow.kind == "scalar")
                .distinct().order_by(MetricSummaryRow.key).limit(limit)))

    def get_cursor(self, run_name: str, source: str) -> tuple[int, int]:
        """(byte offset, last sequence number) already ingested from a record source."""
        with self._session() as s:
            row = s.get(IngestCursorRow, (run_name, source))
            return (row.offset, row.last_seq) if row else (0, 0)

    def get_cursors(self, run_name: str) -> dict[str, tuple[int, int]]:
        with self._session() as s:
            rows = s.scalars(select(IngestCursorRow).where(IngestCursorRow.run_name == run_name)).all()
            return {r.source: (r.offset, r.last_seq) for r in rows}

    def ingest(
        self,
        run_name: str,
        *,
        source: str,
        offset: int,
        last_seq: int,
        # key -> (steps, values, timestamps): lists, or numpy arrays read from a .scalars file
        scalars: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]] | None = None,
        objects: Sequence[E.MetricObject] = (),
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        expect: tuple[int, int] | None = None,
    ) -> bool:
        """Store one batch from one source and advance its cursor, atomically.

        With `expect` (the cursor the batch was read from) the batch is stored only if the cursor
        is still there: False, and nothing stored, when another ingestor of the same run (another
        engine in a team workspace) got there first; the caller re-reads the cursor."""
        try:
            self._ingest(run_name, source, offset, last_seq, scalars, objects, tags, params, expect)
        except (_CursorMoved, IntegrityError) as exc:
            if expect is None or (isinstance(exc, IntegrityError) and not self._cursor_exists(run_name, source)):
                raise
            return False  # (IntegrityError: the other ingestor created this source's cursor first)
        return True

    def _cursor_exists(self, run_name: str, source: str) -> bool:
        with self._session() as s:
            return s.get(IngestCursorRow, (run_name, source)) is not None

    def _ingest(self, run_name: str, source: str, offset: int, last_seq: int,
                scalars: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]] | None,
                objects: Sequence[E.MetricObject], tags: dict[str, Any] | None,
                params: dict[str, Any] | None, expect: tuple[int, int] | None) -> None:
        with self._session() as s, s.begin():
            conn = s.connection()
            if expect is not None:
                # Compare-and-set first: it takes the row's lock (PostgreSQL) or the write lock
                # (SQLite), so a second ingestor waits here and then finds the cursor moved.
                moved = cast("CursorResult[Any]", conn.execute(
                    update(IngestCursorRow)
                    .where(IngestCursorRow.run_name == run_name, IngestCursorRow.source == source,
                           IngestCursorRow.offset == expect[0], IngestCursorRow.last_seq == expect[1])
                    .values(offset=offset, last_seq=last_seq)
                )).rowcount
                if not moved:
                    if expect != (0, 0) or s.get(IngestCursorRow, (run_name, source)) is not None:
                        raise _CursorMoved  # rolls the transaction back: nothing of the batch is kept
                    s.add(IngestCursorRow(run_name=run_name, source=source, offset=offset, last_seq=last_seq))
                    s.flush()  # a concurrent first batch fails here (IntegrityError), not after the data
            for key, (steps, values, stamps) in (scalars or {}).items():
                self._ingest_scalar(conn, run_name, key, steps, values, stamps)
            if objects:
                conn.execute(
                    insert(MetricObjectRow),
                    [
                        {
                            "run_name": run_name,
                            "key": o.key,
                            "kind": o.kind,
                            "payload": o.value,
                            "step": o.step,
                            "timestamp": o.timestamp,
                            "description": o.description,
                        }
                        for o in objects
                    ],
                )
                latest: dict[str, E.MetricObject] = {}
                counts: dict[str, int] = {}
                for o in objects:
                    latest[o.key] = o
                    counts[o.key] = counts.get(o.key, 0) + 1
                for key, o in latest.items():
                    self._upsert_summary(
                        conn, run_name, key, o.kind, counts[key], o.value, o.step, o.timestamp, None, None
                    )
            if tags or params:
                row = s.get(RunRow, run_name)
                if row is None:
                    raise NotFound(f"no job named {run_name!r}")
                if tags:
                    row.tags = {**(row.tags or {}), **tags}
                if params:
                    row.params = {**(row.params or {}), **params}
                row.updated_at = time.time()
            if expect is None:
                cur = s.get(IngestCursorRow, (run_name, source))
                if cur is None:
                    s.add(IngestCursorRow(run_name=run_name, source=source, offset=offset, last_seq=last_seq))
                else:
                    cur.offset = offset
                    cur.last_seq = last_seq

    def _ingest_scalar(self, conn: Connection, run_name: str, key: str, steps: ArrayLike, values: ArrayLike,
                       stamps: ArrayLike) -> None:
        import numpy as np

        st = np.asarray(steps, dtype=_STEP)
        va = np.asarray(values, dtype=_F64)
        ts = np.asarray(stamps, dtype=_F64)
        if len(va) == 0:
            return
        # `count` is labelled `n`: to a type checker a Row's .count is tuple.count()
        tail = conn.execute(
            select(MetricChunkRow.id, MetricChunkRow.count.label("n"), MetricChunkRow.steps, MetricChunkRow.values,
                   MetricChunkRow.timestamps, MetricChunkRow.first_step)
            .where(MetricChunkRow.run_name == run_name, MetricChunkRow.key == key)
            .order_by(MetricChunkRow.id.desc())
            .limit(1)
        ).first()
        if tail is not None and tail.n < CHUNK_MERGE_BELOW:
            conn.execute(
                update(MetricChunkRow)
                .where(MetricChunkRow.id == tail.id)
                .values(
                    count=tail.n + len(va),
                    last_step=int(st[-1]),
                    steps=bytes(tail.steps) + st.tobytes(),
                    values=bytes(tail.values) + va.tobytes(),
                    timestamps=bytes(tail.timestamps) + ts.tobytes(),
                )
            )
        else:
            conn.execute(
                insert(MetricChunkRow).values(
                    run_name=run_name,
                    key=key,
                    count=len(va),
                    first_step=int(st[0]),
                    last_step=int(st[-1]),
                    steps=st.tobytes(),
                    values=va.tobytes(),
                    timestamps=ts.tobytes(),
                )
            )
        finite = va[np.isfinite(va)]
        lo = float(finite.min()) if len(finite) else None
        hi = float(finite.max()) if len(finite) else None
        last = float(va[-1])
        self._upsert_summary(
            conn, run_name, key, "scalar", len(va), last if np.isfinite(last) else None,
            int(st[-1]), float(ts[-1]), lo, hi,
        )

    def _upsert_summary(self, conn: Connection, run_name: str, key: str, kind: str, n: int, last: Any,
                        step: int, ts: float, lo: float | None, hi: float | None) -> None:
        old = conn.execute(
            select(MetricSummaryRow.count.label("n"), MetricSummaryRow.min_value, MetricSummaryRow.max_value)
            .where(MetricSummaryRow.run_name == run_name, MetricSummaryRow.key == key)
        ).first()
        if old is None:
            conn.execute(
                insert(MetricSummaryRow).values(
                    run_name=run_name, key=key, kind=kind, count=n, last_value=last, last_step=step,
                    last_timestamp=ts, min_value=lo, max_value=hi,
                )
            )
            return
        if old.min_value is not None and lo is not None:
            lo = min(lo, old.min_value)
        elif lo is None:
            lo = old.min_value
        if old.max_value is not None and hi is not None:
            hi = max(hi, old.max_value)
        elif hi is None:
            hi = old.max_value
        conn.execute(
            update(MetricSummaryRow)
            .where(MetricSummaryRow.run_name == run_name, MetricSummaryRow.key == key)
            .values(kind=kind, count=old.n + n, last_value=last, last_step=step, last_timestamp=ts,
                    min_value=lo, max_value=hi)
        )

    def metric_summaries(self, run_name: str) -> list[E.MetricSummary]:
        with self._session() as s:
            rows = s.scalars(
                select(MetricSummaryRow).where(MetricSummaryRow.run_name == run_name).order_by(MetricSummaryRow.key)
            ).all()
            return [
                E.MetricSummary(r.key, r.kind, r.count, r.last_value, r.last_step, r.last_timestamp,
                                r.min_value, r.max_value)
                for r in rows
            ]

    def metric_history(self, run_name: str, key: str) -> E.MetricHistory:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(MetricChunkRow.steps, MetricChunkRow.values, MetricChunkRow.timestamps)
                .where(MetricChunkRow.run_name == run_name, MetricChunkRow.key == key)
                .order_by(MetricChunkRow.id)
            ).all()
        import numpy as np

        return E.MetricHistory(
            key,
            np.frombuffer(b"".join(r[0] for r in rows), dtype=_STEP),
            np.frombuffer(b"".join(r[1] for r in rows), dtype=_F64),
            np.frombuffer(b"".join(r[2] for r in rows), dtype=_F64),
        )

    def metric_histories_since(self, run_name: str, starts: dict[str, int]) -> dict[str, E.MetricHistory]:
        """The points of scalar metrics from index `starts[key]` on (0: every point), for live plots
        that append. Whole chunks before the start are skipped: only their counts are read.
        Keys without points are left out. Earlier chunks never change (only the last one grows),
        so the offsets stay right even while the run keeps logging."""
        if not starts:
            return {}
        cols = MetricChunkRow
        with self.engine.connect() as conn:
            index = conn.execute(
                select(cols.id, cols.key, cols.count)
                .where(cols.run_name == run_name, cols.key.in_(list(starts)))
                .order_by(cols.id)
            ).all()
            seen: dict[str, int] = {}  # points in the key's chunks before the current one
            first: dict[str, tuple[int, int]] = {}  # key -> (first chunk id needed, points to skip in it)
            for chunk_id, key, count in index:
                before = seen.get(key, 0)
                seen[key] = before + count
                if key not in first and before + count > starts[key]:
                    first[key] = (chunk_id, starts[key] - before)
            if not first:
                return {}
            rows = conn.execute(
                select(cols.key, cols.steps, cols.values, cols.timestamps)
                .where(cols.run_name == run_name,
                       or_(*(and_(cols.key == k, cols.id >= cid) for k, (cid, _skip) in first.items())))
                .order_by(cols.id)
            ).all()
        import numpy as np

        parts: dict[str, list[Any]] = {}
        for key, steps, values, stamps in rows:
            parts.setdefault(key, []).append((steps, values, stamps))
        out = {}
        for key, chunks in parts.items():
            skip = first[key][1]
            out[key] = E.MetricHistory(
                key,
                np.frombuffer(b"".join(c[0] for c in chunks), dtype=_STEP)[skip:],
                np.frombuffer(b"".join(c[1] for c in chunks), dtype=_F64)[skip:],
                np.frombuffer(b"".join(c[2] for c in chunks), dtype=_F64)[skip:],
            )
        return out

    def metric_objects(self, run_name: str, key: str | None = None) -> list[E.MetricObject]:
        with self._session() as s:
            q = select(MetricObjectRow).where(MetricObjectRow.run_name == run_name)
            if key is not None:
                q = q.where(MetricObjectRow.key == key)
            rows = s.scalars(q.order_by(MetricObjectRow.id)).all()
            return [E.MetricObject(r.key, r.kind, r.payload, r.step, r.timestamp, r.description) for r in rows]
