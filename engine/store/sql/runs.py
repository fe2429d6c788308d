"""Experiments and runs: create, read, update, status changes, and the paged runs tables."""

from __future__ import annotations

import difflib
import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import entities as E
from engine.errors import InvalidState, NotFound
from engine.runtime.host import runs_here
from engine.runtime.sweepresults import is_sweep
from engine.store.lite import run_entity
from engine.store.models import ExperimentRow, IngestCursorRow, RunRow, RunStatusEventRow
from engine.store.runquery import indexed_phrase, order_runs, where_runs
from engine.store.runsearch import looks_like_search
from engine.store.sql.base import SqlBase
from engine.store.textsearch import SEARCH_TABLE, WALK_INDEXES, has_search_index

# Fewer matches than this are sorted, more are read off the sort's index (see _walk_index).
WALK_MIN_MATCHES = 5000

# The ingest cursor row that holds a run's supervisor heartbeat (see Runs.beat).
HEARTBEAT_SOURCE = "supervisor:heartbeat"


class Runs(SqlBase):
    """Experiments and runs."""

    # ----------------------------------------------------------------- experiments
    def get_or_create_experiment(self, name: str) -> E.Experiment:
        try:
            return self._get_or_create_experiment(name)
        except IntegrityError:  # another process created it between our read and our insert
            return self._get_or_create_experiment(name)  # (a new transaction: it reads theirs)

    def _get_or_create_experiment(self, name: str) -> E.Experiment:
        with self._session() as s, s.begin():
            row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            if row is None:
                row = ExperimentRow(name=name, created_at=time.time())
                s.add(row)
                s.flush()
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
        taken = InvalidState(
            f"a job named {name!r} already exists",
            "job names are unique in a workspace: pick another --name, or omit it for a generated one",
        )
        try:
            with self._session() as s, s.begin():
                if s.get(RunRow, name) is not None:
                    raise taken
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
        except IntegrityError as exc:
            # Another engine (a team workspace) recorded the same name between our check and insert.
            if self._run_exists(name):
                raise taken from exc
            raise
        return self.get_run(name)

    def _run_exists(self, name: str) -> bool:
        with self._session() as s:
            return s.get(RunRow, name) is not None

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
            return run_entity(row, exp_name or "", tuple(E.StatusEvent(st, t) for st, t in events))

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
            return [run_entity(row, exp) for row, exp in s.execute(q).all()]

    def runs_holding_or_awaiting(self, compute: str, name: str, *, this_machine: bool = False) -> tuple[int, int]:
        """For run `name` waiting to start on compute target `compute`: (runs of the target that
        have started and not ended, queued runs of the target submitted before it). Sweep runs
        are not counted: their trials are. With `this_machine`, only the runs this machine owns
        count (a local or Docker target of a team workspace is each machine's own)."""
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
            if is_sweep(props or {}) or (this_machine and not runs_here(props or {})):
                continue
            if status in ("NotStarted", "Queued"):
                awaiting += (created, other) < (me.created_at, name)
            else:
                holding += 1
        return holding, awaiting

    def count_runs(self, *, text: str = "", include_archived: bool = True, top_level: bool = False) -> int:
        """How many runs match `text` (as in `query_runs`); every run by default."""
        with self._session() as s:
            phrase = indexed_phrase(text, include_archived, self._search_index)
            if phrase is not None and not top_level:  # the index holds exactly those runs: its count
                return int(s.scalar(sql_text(f"SELECT count(*) FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :p"),
                                    {"p": phrase}) or 0)
            q = select(func.count()).select_from(RunRow)
            if text.strip():
                q = q.join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
            return int(s.scalar(where_runs(q, text, include_archived, self.engine.dialect.name,
                                           top_level=top_level)) or 0)

    def child_counts(self, names: Sequence[str], include_archived: bool = True) -> dict[str, int]:
        """How many child runs each of `names` has (only those with any), in one query."""
        if not names:
            return {}
        with self._session() as s:
            q = (select(RunRow.parent_name, func.count()).where(RunRow.parent_name.in_(list(names)))
                 .group_by(RunRow.parent_name))
            if not include_archived:
                q = q.where(RunRow.archived.is_(False))
            return {str(parent): int(n) for parent, n in s.execute(q).all()}

    def update_run(self, name: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        with self._session() as s, s.begin():
            res = cast("CursorResult[Any]", s.execute(update(RunRow).where(RunRow.name == name).values(**fields)))
            if res.rowcount == 0:
                raise NotFound(f"no job named {name!r} in this workspace")

    def merge_properties(self, name: str, changes: Mapping[str, Any], drop: Iterable[str] = (),
                         **fields: Any) -> dict[str, Any]:
        """Set `changes` in run `name`'s properties (and remove `drop`), with `fields` in the same
        write; returns the properties written. Processes write a run's properties at once (its
        supervisor records its lock while a canceller records its reason), so a read-modify-write
        would lose one of them: this writes only if nobody wrote the row since it was read
        (updated_at, bumped by every write), else reads again."""
        dropped = set(drop)
        while True:
            with self._session() as s, s.begin():
                row = s.execute(select(RunRow.properties, RunRow.updated_at).where(RunRow.name == name)).first()
                if row is None:
                    raise NotFound(f"no job named {name!r} in this workspace")
                props = {k: v for k, v in (row.properties or {}).items() if k not in dropped}
                props.update(changes)
                values = {**fields, "properties": props, "updated_at": max(time.time(), row.updated_at + 1e-6)}
                res = cast("CursorResult[Any]", s.execute(
                    update(RunRow).where(RunRow.name == name, RunRow.updated_at == row.updated_at).values(**values)))
                if res.rowcount == 1:
                    return props

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
        self.merge_properties(name, {"cancel_reason": reason} if reason else {}, cancel_requested=True)
        return self.get_run(name)

    def runs_changed_since(self, since: float) -> list[E.Run]:
        with self._session() as s:
            q = (
                select(RunRow, ExperimentRow.name)
                .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
                .where(RunRow.updated_at > since)
            )
            return [run_entity(row, exp) for row, exp in s.execute(q).all()]

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
            return [run_entity(row, exp) for row, exp in s.execute(q).all()]

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
        top_level: bool = False,
        count: int | None = None,
    ) -> list[E.Run]:
        """One page of runs, filtered and sorted by the store (see engine.store.runquery):
        a table of 100,000 runs reads only the rows it shows. `text` matches name, display name,
        status, experiment, compute or tags (any case); `sort` is one of runquery.RUN_SORTS;
        `top_level` leaves out child runs. `count`: how many runs match, when the caller knows
        (count_runs): a page past the middle is then read from the other end, in reverse, which
        walks the fewest rows (the last page of a million runs: milliseconds, not a second)."""
        joined = RunRow.experiment_id == ExperimentRow.id
        offset, limit = max(0, offset), max(0, limit)
        backwards = count is not None and offset > count // 2 and offset < count
        if backwards:
            assert count is not None
            limit = min(limit, count - offset)
            offset, descending = count - offset - limit, not descending
        with self._session() as s:
            # Sort and page names only, then read those rows: sorting whole rows (JSON columns
            # and all) of 100,000 runs is several times slower.
            q = order_runs(where_runs(select(RunRow.name).join(ExperimentRow, joined), text, include_archived,
                                      self.engine.dialect.name, top_level=top_level,
                                      search_index=self._search_index,
                                      walk=self._walk_index(s, text, sort, include_archived)),
                           sort, descending, self.engine.dialect.name)
            names = list(s.scalars(q.offset(offset).limit(limit)))
            if backwards:
                names.reverse()
            if not names:
                return []
            rows = s.execute(select(RunRow, ExperimentRow.name).join(ExperimentRow, joined)
                             .where(RunRow.name.in_(names))).all()
            by_name = {row.name: run_entity(row, exp) for row, exp in rows}
            return [by_name[n] for n in names if n in by_name]

    @functools.cached_property
    def _search_index(self) -> bool:
        """Whether the filter has SQLite's trigram index (engine.store.textsearch)."""
        if self.engine.dialect.name != "sqlite":
            return False
        with self.engine.connect() as conn:
            return has_search_index(conn)

    def _walk_index(self, s: Session, text: str, sort: str, include_archived: bool) -> bool:
        """Whether a page sorted by start or name is read by walking that sort's index in order (SQLite),
        stopping once the page is full: right when many runs match. When few do (a name typed
        in the filter), sorting those few is faster than walking past every run that does not
        match, so SQLite plans it alone. Its planner, without statistics, prefers the index on
        parent_name for the default view, which sorts every run: hence the walk is asked for."""
        if self.engine.dialect.name != "sqlite" or sort not in WALK_INDEXES or looks_like_search(text.strip()):
            return False
        phrase = indexed_phrase(text, include_archived, self._search_index)
        if phrase is None:
            return True
        # More than WALK_MIN_MATCHES? The index stops counting there: a millisecond, not the count's tens.
        many = s.scalar(sql_text(f"SELECT count(*) FROM (SELECT 1 FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} "
                                 "MATCH :p LIMIT :n)"), {"p": phrase, "n": WALK_MIN_MATCHES + 1})
        return int(many or 0) > WALK_MIN_MATCHES

    def archived_among(self, names: Sequence[str]) -> set[str]:
        """Which of `names` are archived."""
        if not names:
            return set()
        with self._session() as s:
            return set(s.scalars(select(RunRow.name).where(RunRow.name.in_(list(names)), RunRow.archived.is_(True))))

    def supervisor_started(self, name: str) -> float | None:
        """When run `name`'s supervisor started (None: not yet, or no such run)."""
        with self._session() as s:
            return s.scalar(select(RunRow.supervisor_started).where(RunRow.name == name))


    # ----------------------------------------------------------------- supervisors' signs of life
    def beat(self, name: str) -> None:
        """Record that run `name`'s supervisor is alive now, by the database's clock (engine.runs.
        heartbeat): engines of other machines judge it by this, since they cannot see its pid. Kept
        as a row of the run's ingest cursors (source HEARTBEAT_SOURCE, offset = milliseconds since
        the epoch) so that no schema change is needed."""
        for _attempt in range(2):
            try:
                with self._session() as s, s.begin():
                    now_ms = int(self._db_now(s) * 1000)
                    res = cast("CursorResult[Any]", s.execute(
                        update(IngestCursorRow)
                        .where(IngestCursorRow.run_name == name, IngestCursorRow.source == HEARTBEAT_SOURCE)
                        .values(offset=now_ms, last_seq=IngestCursorRow.last_seq + 1)))
                    if res.rowcount:
                        return
                    s.add(IngestCursorRow(run_name=name, source=HEARTBEAT_SOURCE, offset=now_ms, last_seq=1))
                    s.flush()
                    return
            except IntegrityError:  # the first beat of another process at once (or no such run)
                continue
        if not self._run_exists(name):
            raise NotFound(f"no job named {name!r} in this workspace")

    def beat_ages(self, names: Sequence[str]) -> dict[str, float]:
        """Seconds since each run's supervisor last beat, by the database's clock (runs that never
        beat are left out)."""
        if not names:
            return {}
        with self._session() as s:
            now = self._db_now(s)
            rows = s.execute(select(IngestCursorRow.run_name, IngestCursorRow.offset).where(
                IngestCursorRow.source == HEARTBEAT_SOURCE, IngestCursorRow.run_name.in_(list(names)))).all()
        return {name: max(0.0, now - ms / 1000) for name, ms in rows}

    def _db_now(self, s: Session) -> float:
        """The database server's clock: machines whose clocks disagree still agree on it."""
        if self.engine.dialect.name == "postgresql":
            return float(s.scalar(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")) or time.time())
        return time.time()  # SQLite: a file of this machine, whose clock it is
