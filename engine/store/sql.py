"""The workspace store over SQLAlchemy: SQLite (WAL) by default, any SQLAlchemy URL through the
same code. Public methods open a managed session and return frozen entities from engine.entities.
"""

from __future__ import annotations

import difflib
import json
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, and_, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine import entities as E
from engine.environments.spec import EnvironmentSpec
from engine.errors import InvalidSpec, InvalidState, NotFound, WorkspaceError
from engine.names import check_name, check_registrable_name
from engine.store.models import (
    ComputeTargetRow,
    DataAssetRow,
    EnvironmentRow,
    ExperimentRow,
    IngestCursorRow,
    MetricChunkRow,
    MetricObjectRow,
    MetricSummaryRow,
    ModelRow,
    RunRow,
    RunStatusEventRow,
    SnapshotRow,
)
from engine.store.schema import ensure_schema

# A chunk smaller than this absorbs the next batch of the same key, so a slow logger (one
# point per flush) still ends up with few, large chunks.
CHUNK_MERGE_BELOW = 4096

_STEP = np.dtype("<i8")
_F64 = np.dtype("<f8")


def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    _ensure_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _ensure_wal(cur: Any, timeout: float = 30.0) -> None:
    """WAL mode is stored in the file, so it is set once; switching needs an exclusive lock and
    SQLite does not wait for it (no busy handler), so several processes opening a new workspace
    at once retry here instead of failing with "database is locked"."""
    import sqlite3

    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_dumps_strict(obj: Any) -> str:
    """JSON for servers that reject NaN/Infinity (PostgreSQL's json type): non-finite floats
    in a logged list/row/table become null instead of failing the whole ingestion batch."""
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps_strict)


class SqlStore:
    """Runs, experiments, metrics, snapshots, models and data assets of one workspace."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        try:
            if migrate:
                ensure_schema(self.engine)
        except OperationalError as exc:
            raise WorkspaceError(
                f"cannot open the workspace store at {url}: {exc.orig}",
                "check that the folder is writable (or the database server reachable)",
            ) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return self._sessions()

    # ----------------------------------------------------------------- experiments
    def get_or_create_experiment(self, name: str) -> E.Experiment:
        with self._session() as s, s.begin():
            row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            if row is None:
                row = ExperimentRow(name=name, created_at=time.time())
                s.add(row)
                try:
                    s.flush()
                except IntegrityError:  # created concurrently: use that one
                    s.rollback()
                    row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            assert row is not None
            return E.Experiment(id=row.id, name=row.name, created_at=row.created_at)

    def list_experiments(self) -> list[E.Experiment]:
        with self._session() as s:
            counts = dict(
                s.execute(select(RunRow.experiment_id, func.count()).group_by(RunRow.experiment_id)).all()
            )
            rows = s.scalars(select(ExperimentRow).order_by(ExperimentRow.name)).all()
            return [E.Experiment(r.id, r.name, r.created_at, counts.get(r.id, 0)) for r in rows]

    # ----------------------------------------------------------------- runs
    def create_run(self, *, name: str, experiment_name: str, run_dir: str, **fields: Any) -> E.Run:
        exp = self.get_or_create_experiment(experiment_name)
        now = time.time()
        status = fields.pop("status", "NotStarted")
        with self._session() as s, s.begin():
            if s.get(RunRow, name) is not None:
                raise InvalidState(
                    f"a job named {name!r} already exists",
                    "job names are unique in a workspace: pick another --name, or omit it for a generated one",
                )
            fields.setdefault("display_name", name)
            row = RunRow(
                name=name,
                experiment_id=exp.id,
                run_dir=run_dir,
                status=status,
                created_at=now,
                updated_at=now,
                **fields,
            )
            s.add(row)
            s.flush()
            s.add(RunStatusEventRow(run_name=name, status=status, time=now))
        return self.get_run(name)

    def _run_names(self, s: Session) -> list[str]:
        return list(s.scalars(select(RunRow.name).order_by(RunRow.created_at.desc()).limit(5000)))

    def get_run(self, name: str) -> E.Run:
        with self._session() as s:
            row = s.get(RunRow, name)
            if row is None:
                close = difflib.get_close_matches(name, self._run_names(s), n=3)
                hint = (
                    f"did you mean {', '.join(close)}?"
                    if close
                    else "list jobs with `trainyard job list`"
                )
                raise NotFound(f"no job named {name!r} in this workspace", hint)
            exp_name = s.scalar(select(ExperimentRow.name).where(ExperimentRow.id == row.experiment_id))
            events = s.execute(
                select(RunStatusEventRow.status, RunStatusEventRow.time)
                .where(RunStatusEventRow.run_name == name)
                .order_by(RunStatusEventRow.id)
            ).all()
            return _run_entity(row, exp_name or "", tuple(E.StatusEvent(st, t) for st, t in events))

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        statuses: Iterable[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        include_archived: bool = False,
    ) -> list[E.Run]:
        with self._session() as s:
            q = select(RunRow, ExperimentRow.name).join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
            if experiment is not None:
                q = q.where(ExperimentRow.name == experiment)
            if statuses:
                q = q.where(RunRow.status.in_(list(statuses)))
            if not include_archived:
                q = q.where(RunRow.archived.is_(False))
            q = q.order_by(RunRow.created_at.desc()).offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return [_run_entity(row, exp) for row, exp in s.execute(q).all()]

    def runs_holding_or_awaiting(self, compute: str, name: str) -> tuple[int, int]:
        """For run `name` waiting to start on compute target `compute`: (runs of the target that
        have started and not ended, queued runs of the target submitted before it). Sweep runs
        are not counted: their trials are."""
        with self._session() as s:
            me = s.get(RunRow, name)
            if me is None:
                raise NotFound(f"no job named {name!r} in this workspace")
            rows = s.execute(
                select(RunRow.name, RunRow.status, RunRow.created_at, RunRow.properties)
                .where(RunRow.compute == compute, RunRow.status.in_(list(E.ACTIVE_STATUSES)), RunRow.name != name)
            ).all()
        holding = awaiting = 0
        for other, status, created, props in rows:
            if (props or {}).get("run_type") == "sweep":
                continue
            if status in ("NotStarted", "Queued"):
                awaiting += (created, other) < (me.created_at, name)
            else:
                holding += 1
        return holding, awaiting

    def count_runs(self, *, text: str = "", include_archived: bool = True) -> int:
        """How many runs match `text` (as in `query_runs`); every run by default."""
        from engine.store.runquery import where_runs

        with self._session() as s:
            q = select(func.count()).select_from(RunRow)
            if text.strip():
                q = q.join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
            return int(s.scalar(where_runs(q, text, include_archived, self.engine.dialect.name)) or 0)

    def update_run(self, name: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        with self._session() as s, s.begin():
            res = s.execute(update(RunRow).where(RunRow.name == name).values(**fields))
            if res.rowcount == 0:
                raise NotFound(f"no job named {name!r} in this workspace")

    def set_status(self, name: str, status: str, *, at: float | None = None, **fields: Any) -> bool:
        """Move a run to `status`. Returns False (and changes nothing) if it already ended:
        a terminal status is final, so a late writer cannot overwrite Canceled with Failed."""
        if status not in E.RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        now = at or time.time()
        with self._session() as s, s.begin():
            row = s.get(RunRow, name, with_for_update=True)
            if row is None:
                raise NotFound(f"no job named {name!r} in this workspace")
            old_status = row.status
            if old_status in E.TERMINAL_STATUSES:
                return False
            if status == old_status and not fields:
                return True
            values: dict[str, Any] = {"status": status, "updated_at": time.time(), **fields}
            if status == "Running" and row.start_time is None:
                values.setdefault("start_time", now)
            if status in E.TERMINAL_STATUSES:
                values.setdefault("end_time", now)
            s.execute(update(RunRow).where(RunRow.name == name).values(**values))
            if status != old_status:
                s.add(RunStatusEventRow(run_name=name, status=status, time=now))
            return True

    def request_cancel(self, name: str, reason: str | None = None) -> E.Run:
        """Flag run `name` for cancelling; `reason` (e.g. a sweep's early termination) becomes the
        run's error message instead of "canceled by the user"."""
        run = self.get_run(name)
        if run.is_terminal:
            raise InvalidState(
                f"job {name!r} has already ended ({run.status}); there is nothing to cancel",
            )
        fields: dict[str, Any] = {"cancel_requested": True}
        if reason:
            fields["properties"] = {**run.properties, "cancel_reason": reason}
        self.update_run(name, **fields)
        return self.get_run(name)

    def runs_changed_since(self, since: float) -> list[E.Run]:
        with self._session() as s:
            q = (
                select(RunRow, ExperimentRow.name)
                .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
                .where(RunRow.updated_at > since)
            )
            return [_run_entity(row, exp) for row, exp in s.execute(q).all()]

    def list_children(self, name: str) -> list[E.Run]:
        """The runs submitted as children of run `name`, oldest first (archived ones included)."""
        with self._session() as s:
            if s.get(RunRow, name) is None:
                raise NotFound(f"no job named {name!r} in this workspace")
            q = (
                select(RunRow, ExperimentRow.name)
                .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
                .where(RunRow.parent_name == name)
                .order_by(RunRow.created_at, RunRow.name)
            )
            return [_run_entity(row, exp) for row, exp in s.execute(q).all()]

    # ----------------------------------------------------------------- runs tables (paged)
    def query_runs(
        self,
        *,
        text: str = "",
        sort: str = "start",
        descending: bool = True,
        offset: int = 0,
        limit: int = 200,
        include_archived: bool = False,
    ) -> list[E.Run]:
        """One page of runs, filtered and sorted by the store (see engine.store.runquery):
        a table of 100,000 runs reads only the rows it shows. `text` matches name, display name,
        status, experiment, compute or tags (any case); `sort` is one of runquery.RUN_SORTS."""
        from engine.store.runquery import order_runs, where_runs

        joined = RunRow.experiment_id == ExperimentRow.id
        with self._session() as s:
            # Sort and page names only, then read those rows: sorting whole rows (JSON columns
            # and all) of 100,000 runs is several times slower.
            q = order_runs(where_runs(select(RunRow.name).join(ExperimentRow, joined), text, include_archived,
                                      self.engine.dialect.name),
                           sort, descending)
            names = list(s.scalars(q.offset(max(0, offset)).limit(max(0, limit))))
            if not names:
                return []
            rows = s.execute(select(RunRow, ExperimentRow.name).join(ExperimentRow, joined)
                             .where(RunRow.name.in_(names))).all()
            by_name = {row.name: _run_entity(row, exp) for row, exp in rows}
            return [by_name[n] for n in names if n in by_name]

    def archived_among(self, names: Sequence[str]) -> set[str]:
        """Which of `names` are archived."""
        if not names:
            return set()
        with self._session() as s:
            return set(s.scalars(select(RunRow.name).where(RunRow.name.in_(list(names)), RunRow.archived.is_(True))))

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

    # ----------------------------------------------------------------- metrics
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
        scalars: dict[str, tuple[Sequence[int], Sequence[float], Sequence[float]]] | None = None,
        objects: Sequence[E.MetricObject] = (),
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Store one batch from one source and advance its cursor, atomically."""
        with self._session() as s, s.begin():
            conn = s.connection()
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
            cur = s.get(IngestCursorRow, (run_name, source))
            if cur is None:
                s.add(IngestCursorRow(run_name=run_name, source=source, offset=offset, last_seq=last_seq))
            else:
                cur.offset = offset
                cur.last_seq = last_seq

    def _ingest_scalar(self, conn, run_name, key, steps, values, stamps) -> None:  # type: ignore[no-untyped-def]
        st = np.asarray(steps, dtype=_STEP)
        va = np.asarray(values, dtype=_F64)
        ts = np.asarray(stamps, dtype=_F64)
        if len(va) == 0:
            return
        tail = conn.execute(
            select(MetricChunkRow.id, MetricChunkRow.count, MetricChunkRow.steps, MetricChunkRow.values,
                   MetricChunkRow.timestamps, MetricChunkRow.first_step)
            .where(MetricChunkRow.run_name == run_name, MetricChunkRow.key == key)
            .order_by(MetricChunkRow.id.desc())
            .limit(1)
        ).first()
        if tail is not None and tail.count < CHUNK_MERGE_BELOW:
            conn.execute(
                update(MetricChunkRow)
                .where(MetricChunkRow.id == tail.id)
                .values(
                    count=tail.count + len(va),
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

    def _upsert_summary(self, conn, run_name, key, kind, n, last, step, ts, lo, hi) -> None:  # type: ignore[no-untyped-def]
        old = conn.execute(
            select(MetricSummaryRow.count, MetricSummaryRow.min_value, MetricSummaryRow.max_value)
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
            .values(kind=kind, count=old.count + n, last_value=last, last_step=step, last_timestamp=ts,
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

    # ----------------------------------------------------------------- snapshots
    def add_snapshot(self, info: E.SnapshotInfo) -> None:
        with self._session() as s, s.begin():
            if s.get(SnapshotRow, info.id) is None:
                s.add(SnapshotRow(id=info.id, source=info.source, file_count=info.file_count,
                                  total_bytes=info.total_bytes, git=info.git, created_at=info.created_at))

    # ----------------------------------------------------------------- models
    def add_model(self, *, name: str, path_for_version: Any, **fields: Any) -> E.Model:
        """Register the next version of `name`. `path_for_version(version)` returns where its
        files live (the caller copies them there before we commit)."""
        for _attempt in range(5):
            with self._session() as s:
                try:
                    with s.begin():
                        version = (s.scalar(select(func.max(ModelRow.version)).where(ModelRow.name == name)) or 0) + 1
                        path = path_for_version(version)
                        s.add(ModelRow(name=name, version=version, path=str(path), created_at=time.time(), **fields))
                    return self.get_model(name, version)
                except IntegrityError:
                    continue  # another writer took this version number: try the next
        raise WorkspaceError(f"could not allocate a version for model {name!r}", "try again")

    def get_model(self, name: str, version: int | None = None) -> E.Model:
        with self._session() as s:
            q = select(ModelRow).where(ModelRow.name == name)
            q = q.where(ModelRow.version == version) if version is not None else q.order_by(ModelRow.version.desc())
            row = s.scalars(q.limit(1)).first()
            if row is None:
                names = list(s.scalars(select(ModelRow.name).distinct()))
                if version is not None and name in names:
                    raise NotFound(f"model {name!r} has no version {version}", f"list versions with `trainyard model list --name {name}`")
                close = difflib.get_close_matches(name, names, n=3)
                raise NotFound(f"no model named {name!r}", f"did you mean {', '.join(close)}?" if close else "list models with `trainyard model list`")
            return _model_entity(row)

    def list_models(self, name: str | None = None) -> list[E.Model]:
        with self._session() as s:
            q = select(ModelRow)
            if name is not None:
                q = q.where(ModelRow.name == name)
            return [_model_entity(r) for r in s.scalars(q.order_by(ModelRow.name, ModelRow.version)).all()]

    def delete_model_row(self, name: str, version: int) -> None:
        with self._session() as s, s.begin():
            s.execute(delete(ModelRow).where(ModelRow.name == name, ModelRow.version == version))

    # ----------------------------------------------------------------- data assets
    def add_data_asset(self, *, name: str, path: str, kind: str, description: str = "") -> E.DataAsset:
        for _attempt in range(5):
            with self._session() as s:
                try:
                    with s.begin():
                        version = (s.scalar(select(func.max(DataAssetRow.version)).where(DataAssetRow.name == name)) or 0) + 1
                        s.add(DataAssetRow(name=name, version=version, path=path, kind=kind,
                                           description=description, created_at=time.time()))
                    return self.get_data_asset(name, version)
                except IntegrityError:
                    continue
        raise WorkspaceError(f"could not allocate a version for data asset {name!r}", "try again")

    def get_data_asset(self, name: str, version: int | None = None) -> E.DataAsset:
        with self._session() as s:
            q = select(DataAssetRow).where(DataAssetRow.name == name)
            q = q.where(DataAssetRow.version == version) if version is not None else q.order_by(DataAssetRow.version.desc())
            row = s.scalars(q.limit(1)).first()
            if row is None:
                raise NotFound(f"no data asset {name!r}" + (f" version {version}" if version else ""),
                               "list data assets with `trainyard data list`")
            return E.DataAsset(row.name, row.version, row.path, row.created_at, row.description, row.kind)

    def list_data_assets(self) -> list[E.DataAsset]:
        with self._session() as s:
            rows = s.scalars(select(DataAssetRow).order_by(DataAssetRow.name, DataAssetRow.version)).all()
            return [E.DataAsset(r.name, r.version, r.path, r.created_at, r.description, r.kind) for r in rows]

    # ----------------------------------------------------------------- environments
    def add_environment(self, spec: EnvironmentSpec) -> EnvironmentSpec:
        """Register `spec` as a new version of `spec.name`: the next free number, or
        `spec.version` when it gives one that is free. Curated (reserved) names are refused."""
        check_registrable_name(spec.name)
        for _attempt in range(5):
            with self._session() as s:
                try:
                    with s.begin():
                        if spec.version is not None:
                            version = spec.version
                            taken = s.scalar(select(EnvironmentRow.id).where(
                                EnvironmentRow.name == spec.name, EnvironmentRow.version == version))
                            if taken is not None:
                                latest = s.scalar(select(func.max(EnvironmentRow.version))
                                                  .where(EnvironmentRow.name == spec.name)) or 0
                                raise InvalidSpec(
                                    f"environment {spec.name!r} already has a version {version}",
                                    f"versions cannot be changed once registered: leave `version:` out to "
                                    f"register it as version {latest + 1}, or give a version that is free",
                                    field="version",
                                )
                        else:
                            version = (s.scalar(select(func.max(EnvironmentRow.version))
                                                .where(EnvironmentRow.name == spec.name)) or 0) + 1
                        stored = {**spec.to_dict(), "version": version, "curated": False}
                        s.add(EnvironmentRow(name=spec.name, version=version, spec=stored,
                                             description=spec.description or "", created_at=time.time()))
                    return self.get_environment(spec.name, version)
                except IntegrityError:
                    continue  # another writer took this version number: try again (an explicit one now fails)
        raise WorkspaceError(f"could not allocate a version for environment {spec.name!r}", "try again")

    def get_environment(self, name: str, version: int | None = None) -> EnvironmentSpec:
        """One registered version (default: the latest)."""
        with self._session() as s:
            q = select(EnvironmentRow).where(EnvironmentRow.name == name)
            q = (q.where(EnvironmentRow.version == version) if version is not None
                 else q.order_by(EnvironmentRow.version.desc()))
            row = s.scalars(q.limit(1)).first()
            if row is None:
                versions = list(s.scalars(select(EnvironmentRow.version).where(EnvironmentRow.name == name)
                                          .order_by(EnvironmentRow.version)))
                if versions:
                    raise NotFound(f"environment {name!r} has no version {version}",
                                   f"its versions: {', '.join(map(str, versions))} (or use {name}@latest)")
                names = list(s.scalars(select(EnvironmentRow.name).distinct()))
                close = difflib.get_close_matches(name, names, n=3)
                raise NotFound(f"no environment named {name!r} in this workspace",
                               f"did you mean {', '.join(close)}?" if close
                               else "list environments with `trainyard environment list`")
            return _environment_spec(row)

    def list_environments(self, name: str | None = None) -> list[EnvironmentSpec]:
        """Every registered version, by name then version."""
        with self._session() as s:
            q = select(EnvironmentRow)
            if name is not None:
                q = q.where(EnvironmentRow.name == name)
            rows = s.scalars(q.order_by(EnvironmentRow.name, EnvironmentRow.version)).all()
            return [_environment_spec(r) for r in rows]

    def environment_created_at(self, name: str, version: int) -> float | None:
        with self._session() as s:
            return s.scalar(select(EnvironmentRow.created_at).where(
                EnvironmentRow.name == name, EnvironmentRow.version == version))


    # ----------------------------------------------------------------- compute targets
    def add_compute_target(self, name: str, type: str, config: dict[str, Any],
                           description: str = "") -> E.ComputeTarget:
        """Register a compute target. The names of the built-in targets are reserved; a name
        that is taken is an error (delete the old target first)."""
        check_name(name, "compute target", reserved=E.BUILTIN_COMPUTE)
        if type not in E.COMPUTE_TYPES:
            raise InvalidSpec(f"unknown compute type {type!r}", f"use one of {', '.join(E.COMPUTE_TYPES)}",
                              field="type")
        taken = InvalidSpec(f"a compute target named {name!r} already exists",
                            f"pick another name, or delete it first with `trainyard compute delete -n {name}`",
                            field="name")
        with self._session() as s:
            try:
                with s.begin():
                    if s.scalar(select(ComputeTargetRow.id).where(ComputeTargetRow.name == name)) is not None:
                        raise taken
                    row = ComputeTargetRow(name=name, type=type, config=dict(config),
                                           description=description or "", created_at=time.time())
                    s.add(row)
            except IntegrityError:
                raise taken from None
            return _compute_entity(row)

    def get_compute_target(self, name: str) -> E.ComputeTarget:
        """A built-in (`local`, `docker`) or registered target; NotFound lists the known names."""
        if name in E.BUILTIN_COMPUTE:
            return E.builtin_compute_target(name)
        with self._session() as s:
            row = s.scalar(select(ComputeTargetRow).where(ComputeTargetRow.name == name))
            if row is not None:
                return _compute_entity(row)
            registered = list(s.scalars(select(ComputeTargetRow.name).order_by(ComputeTargetRow.name)))
        raise E.unknown_compute(name, registered)

    def list_compute_targets(self, *, builtin: bool = True) -> list[E.ComputeTarget]:
        """The built-in targets first (unless `builtin=False`), then the registered ones by name."""
        with self._session() as s:
            rows = s.scalars(select(ComputeTargetRow).order_by(ComputeTargetRow.name)).all()
            found = [_compute_entity(r) for r in rows]
        return ([E.builtin_compute_target(n) for n in E.BUILTIN_COMPUTE] if builtin else []) + found

    def delete_compute_target(self, name: str) -> E.ComputeTarget:
        """Remove a registered target (runs that used it keep its name); returns what was removed."""
        if name in E.BUILTIN_COMPUTE:
            raise InvalidSpec(f"the compute target {name!r} is built in and cannot be deleted",
                              "only targets made with `trainyard compute create` can be deleted", field="name")
        target = self.get_compute_target(name)
        with self._session() as s, s.begin():
            s.execute(delete(ComputeTargetRow).where(ComputeTargetRow.name == name))
        return target

def _run_entity(row: RunRow, experiment_name: str, history: tuple[E.StatusEvent, ...] = ()) -> E.Run:
    return E.Run(
        name=row.name,
        experiment_name=experiment_name,
        display_name=row.display_name,
        status=row.status,
        created_at=row.created_at,
        run_dir=row.run_dir,
        description=row.description or "",
        command=row.command,
        arguments=tuple(row.arguments or ()),
        start_time=row.start_time,
        end_time=row.end_time,
        compute=row.compute,
        environment=row.environment,
        snapshot_id=row.snapshot_id,
        git=row.git,
        inputs=dict(row.inputs or {}),
        params=dict(row.params or {}),
        tags=dict(row.tags or {}),
        properties=dict(row.properties or {}),
        exit_code=row.exit_code,
        error=row.error,
        max_run_duration_seconds=row.max_run_duration_seconds,
        status_history=history,
        cancel_requested=bool(row.cancel_requested),
        supervisor_pid=row.supervisor_pid,
        parent_name=row.parent_name,
    )


def _model_entity(r: ModelRow) -> E.Model:
    return E.Model(r.name, r.version, r.path, r.created_at, r.run_name, r.description, dict(r.tags or {}), r.source_path)


def _environment_spec(row: EnvironmentRow) -> EnvironmentSpec:
    from dataclasses import fields

    known = {f.name for f in fields(EnvironmentSpec)}
    data = {k: v for k, v in (row.spec or {}).items() if k in known}  # written by a newer Trainyard
    data.update(name=row.name, version=row.version, description=row.description or "", curated=False)
    return EnvironmentSpec.from_dict(data)



def _compute_entity(row: ComputeTargetRow) -> E.ComputeTarget:
    return E.ComputeTarget(row.name, row.type, dict(row.config or {}), row.description or "", row.created_at)
