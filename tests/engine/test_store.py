"""The workspace store (engine.store.sql.SqlStore) on real SQLite and a real PostgreSQL.

Every test that takes the ``store`` fixture runs twice: on an SQLite file in ``tmp_path`` and on
a real PostgreSQL database (made for this module and migrated once; every table is emptied
before each test), so tests are independent of each other and of their order.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import engine.store.sql.metrics as metrics_mod
from engine import entities as E
from engine.errors import InvalidState, NotFound
from engine.store.models import MetricChunkRow
from engine.store.sql import SqlStore


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A brand-new PostgreSQL database on the session server for this module, migrated to head
    by the store itself; dropped afterwards."""
    server_url: str = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    db = f"t_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    url = sa.engine.make_url(server_url).set(database=db).render_as_string(hide_password=False)
    try:
        SqlStore(url).close()  # create the schema with the store's own migrations
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_pg_database(pg_database: str) -> str:
    """The module's PostgreSQL database with every table emptied (and id sequences reset), so
    each test starts from a fresh workspace whatever ran before it."""
    eng = sa.create_engine(pg_database)
    try:
        with eng.begin() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
            assert tables, "the store created no tables"
            conn.execute(sa.text(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    finally:
        eng.dispose()
    return pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("empty_pg_database"))


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url)
    try:
        yield s
    finally:
        s.close()


def _run(store: SqlStore, name: str = "bright_apple_1", experiment: str = "mnist", **fields: Any) -> E.Run:
    return store.create_run(name=name, experiment_name=experiment, run_dir=f"/tmp/runs/{name}", **fields)


def _scalars(key: str, steps: Any, values: Any, stamps: Any = None) -> dict[str, Any]:
    steps = list(steps)
    stamps = list(stamps) if stamps is not None else [1_700_000_000.0 + s for s in steps]
    return {key: (steps, list(values), stamps)}


def _chunk_count(store: SqlStore, run: str, key: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(
            sa.select(sa.func.count()).select_from(MetricChunkRow)
            .where(MetricChunkRow.run_name == run, MetricChunkRow.key == key)
        ))


# --------------------------------------------------------------------------- experiments
def test_experiment_get_or_create_returns_the_same_experiment(store: SqlStore) -> None:
    a = store.get_or_create_experiment("mnist")
    b = store.get_or_create_experiment("mnist")
    c = store.get_or_create_experiment("cifar")
    assert a.id == b.id and a.name == b.name == "mnist"
    assert c.id != a.id
    _run(store, "r1", "mnist")
    _run(store, "r2", "mnist")
    by_name = {e.name: e for e in store.list_experiments()}
    assert sorted(by_name) == ["cifar", "mnist"]
    assert by_name["mnist"].run_count == 2
    assert by_name["cifar"].run_count == 0


# --------------------------------------------------------------------------- runs
def test_run_create_and_get_round_trip(store: SqlStore) -> None:
    created = _run(
        store, "keen_river_7", "mnist", display_name="first try", description="lr sweep",
        command="python train.py --lr 0.1", compute="local", inputs={"lr": 0.1, "data": "/d"},
        tags={"team": "vision"}, properties={"host": "box"}, max_run_duration_seconds=60.0,
    )
    got = store.get_run("keen_river_7")
    assert got == created
    assert got.name == "keen_river_7"
    assert got.experiment_name == "mnist"
    assert got.display_name == "first try"
    assert got.description == "lr sweep"
    assert got.command == "python train.py --lr 0.1"
    assert got.inputs == {"lr": 0.1, "data": "/d"}
    assert got.tags == {"team": "vision"}
    assert got.properties == {"host": "box"}
    assert got.max_run_duration_seconds == 60.0
    assert got.status == "NotStarted"
    assert [ev.status for ev in got.status_history] == ["NotStarted"]
    assert got.start_time is None and got.end_time is None
    assert not got.is_terminal


def test_display_name_defaults_to_the_run_name(store: SqlStore) -> None:
    assert _run(store, "calm_lake_3").display_name == "calm_lake_3"


def test_run_names_are_unique(store: SqlStore) -> None:
    _run(store, "dup")
    with pytest.raises(InvalidState, match="already exists"):
        _run(store, "dup", "other")
    assert store.count_runs() == 1


def test_list_runs_newest_first_and_filters(store: SqlStore) -> None:
    _run(store, "a1", "alpha")
    _run(store, "b1", "beta")
    _run(store, "a2", "alpha")
    _run(store, "a3", "alpha")
    store.set_status("a2", "Running")
    store.set_status("a3", "Running")
    store.set_status("a3", "Completed")

    assert [r.name for r in store.list_runs()] == ["a3", "a2", "b1", "a1"]
    assert [r.name for r in store.list_runs(experiment="alpha")] == ["a3", "a2", "a1"]
    assert [r.name for r in store.list_runs(experiment="nosuch")] == []
    assert [r.name for r in store.list_runs(statuses=["Running"])] == ["a2"]
    assert [r.name for r in store.list_runs(statuses=["Running", "Completed"])] == ["a3", "a2"]
    assert [r.name for r in store.list_runs(experiment="alpha", statuses=["NotStarted"])] == ["a1"]
    assert [r.name for r in store.list_runs(limit=2)] == ["a3", "a2"]
    assert [r.name for r in store.list_runs(limit=2, offset=2)] == ["b1", "a1"]
    assert all(r.experiment_name == "alpha" for r in store.list_runs(experiment="alpha"))
    assert store.count_runs() == 4

    store.update_run("b1", archived=True)
    assert [r.name for r in store.list_runs()] == ["a3", "a2", "a1"]
    assert "b1" in [r.name for r in store.list_runs(include_archived=True)]


def test_update_run_of_unknown_run_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        store.update_run("ghost", exit_code=3)


def test_unknown_run_name_suggests_close_names(store: SqlStore) -> None:
    _run(store, "bright_apple_123")
    _run(store, "quiet_stone_9")
    with pytest.raises(NotFound) as info:
        store.get_run("bright_apple_12")
    assert "bright_apple_12" in info.value.message
    assert info.value.hint is not None
    assert "did you mean" in info.value.hint and "bright_apple_123" in info.value.hint
    assert "quiet_stone_9" not in info.value.hint

    with pytest.raises(NotFound) as far:
        store.get_run("zzzzzz")
    assert far.value.hint is not None and "trainyard job list" in far.value.hint


# --------------------------------------------------------------------------- status lifecycle
def test_status_lifecycle_records_history_and_times(store: SqlStore) -> None:
    _run(store, "life")
    assert store.set_status("life", "Queued", at=1000.0)
    assert store.set_status("life", "Preparing", at=1001.0)
    run = store.get_run("life")
    assert run.start_time is None and run.end_time is None

    assert store.set_status("life", "Running", at=1002.5)
    run = store.get_run("life")
    assert run.status == "Running"
    assert run.start_time == 1002.5 and run.end_time is None

    assert store.set_status("life", "Finalizing", at=1010.0)
    assert store.set_status("life", "Completed", at=1011.0, exit_code=0)
    run = store.get_run("life")
    assert run.status == "Completed" and run.is_terminal
    assert run.start_time == 1002.5  # not moved by later statuses
    assert run.end_time == 1011.0
    assert run.exit_code == 0
    assert run.duration == pytest.approx(8.5)
    history = [(ev.status, ev.time) for ev in run.status_history]
    assert [s for s, _ in history] == ["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed"]
    assert [t for _, t in history][1:] == [1000.0, 1001.0, 1002.5, 1010.0, 1011.0]


def test_a_terminal_status_is_final(store: SqlStore) -> None:
    _run(store, "done")
    store.set_status("done", "Running", at=10.0)
    assert store.set_status("done", "Canceled", at=20.0, error="canceled by user")
    before = store.get_run("done")

    assert store.set_status("done", "Failed", at=30.0, error="late writer", exit_code=9) is False
    assert store.set_status("done", "Running", at=40.0) is False
    assert store.set_status("done", "Completed", at=50.0) is False
    after = store.get_run("done")
    assert after == before
    assert after.status == "Canceled"
    assert after.error == "canceled by user"
    assert after.exit_code is None
    assert after.end_time == 20.0
    assert [ev.status for ev in after.status_history] == ["NotStarted", "Running", "Canceled"]


def test_same_status_twice_adds_no_history_event(store: SqlStore) -> None:
    _run(store, "twice")
    assert store.set_status("twice", "Running", at=5.0)
    assert store.set_status("twice", "Running", at=6.0)
    assert store.set_status("twice", "Running", at=7.0, supervisor_pid=1234)
    run = store.get_run("twice")
    assert [ev.status for ev in run.status_history] == ["NotStarted", "Running"]
    assert run.start_time == 5.0
    assert run.supervisor_pid == 1234


def test_set_status_rejects_unknown_status_and_unknown_run(store: SqlStore) -> None:
    _run(store, "r")
    with pytest.raises(ValueError, match="Done"):
        store.set_status("r", "Done")
    with pytest.raises(NotFound):
        store.set_status("ghost", "Running")
    assert store.get_run("r").status == "NotStarted"


def test_cancel_request_of_an_ended_run_is_refused(store: SqlStore) -> None:
    _run(store, "c")
    assert store.request_cancel("c").cancel_requested is True
    store.set_status("c", "Canceled")
    with pytest.raises(InvalidState, match="already ended"):
        store.request_cancel("c")


def test_properties_written_at_once_by_two_processes_are_all_kept(store: SqlStore, store_url: str) -> None:
    """A supervisor records its lock while a canceller records its reason: neither write may lose
    the other's (CI once saw a step's 'controller died' reason replaced by 'canceled by the user')."""
    import threading

    _run(store, "busy")
    others = [SqlStore(store_url) for _ in range(2)]
    try:
        def writer(i: int) -> None:
            for k in range(60):
                others[i].merge_properties("busy", {f"w{i}_{k}": k})

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        store.request_cancel("busy", "its pipeline p failed")
        for t in threads:
            t.join()
    finally:
        for o in others:
            o.close()
    props = store.get_run("busy").properties
    assert props["cancel_reason"] == "its pipeline p failed"
    assert {f"w{i}_{k}" for i in range(2) for k in range(60)} <= set(props)
    assert store.merge_properties("busy", {"x": 1}, drop=("cancel_reason",))["x"] == 1
    assert "cancel_reason" not in store.get_run("busy").properties


# --------------------------------------------------------------------------- scalar metrics
def test_scalars_in_several_batches_come_back_in_order_and_exact(store: SqlStore) -> None:
    _run(store, "m")
    rng = np.random.default_rng(7)
    values = rng.standard_normal(1000) * 1e-3 + np.pi  # full-precision doubles
    stamps = 1_700_000_000.0 + np.arange(1000) * 0.123456789
    cuts = [0, 1, 17, 400, 401, 999, 1000]
    for lo, hi in itertools.pairwise(cuts):
        store.ingest("m", source="w0.jsonl", offset=hi * 10, last_seq=hi,
                     scalars={"loss": (list(range(lo, hi)), values[lo:hi].tolist(), stamps[lo:hi].tolist())})
    h = store.metric_history("m", "loss")
    assert len(h) == 1000 and h.key == "loss"
    assert isinstance(h.values, np.ndarray) and h.values.dtype == np.float64
    assert h.steps.dtype == np.int64 and h.timestamps.dtype == np.float64
    np.testing.assert_array_equal(h.steps, np.arange(1000))
    np.testing.assert_array_equal(h.values, values)  # bit-exact, not approx
    np.testing.assert_array_equal(h.timestamps, stamps)
    pts = h.points()
    assert pts[0]["step"] == 0 and pts[0]["value"] == values[0]
    assert pts[0]["timestamp"].endswith("+00:00")


def test_keys_and_runs_do_not_mix(store: SqlStore) -> None:
    _run(store, "r1")
    _run(store, "r2")
    store.ingest("r1", source="a", offset=1, last_seq=1,
                 scalars={**_scalars("loss", [0, 1], [1.0, 2.0]), **_scalars("acc", [0], [0.5])})
    store.ingest("r2", source="a", offset=1, last_seq=1, scalars=_scalars("loss", [0], [9.0]))
    np.testing.assert_array_equal(store.metric_history("r1", "loss").values, [1.0, 2.0])
    np.testing.assert_array_equal(store.metric_history("r1", "acc").values, [0.5])
    np.testing.assert_array_equal(store.metric_history("r2", "loss").values, [9.0])
    empty = store.metric_history("r2", "acc")
    assert len(empty) == 0 and empty.values.dtype == np.float64


def test_summaries_track_count_last_min_max(store: SqlStore) -> None:
    _run(store, "s")
    store.ingest("s", source="w", offset=1, last_seq=3, scalars=_scalars("loss", [0, 1, 2], [5.0, -2.5, 3.0]))
    store.ingest("s", source="w", offset=2, last_seq=5, scalars=_scalars("loss", [3, 4], [10.0, 1.25]))
    store.ingest("s", source="w", offset=3, last_seq=6, scalars=_scalars("acc", [0], [0.9]))
    sums = {m.key: m for m in store.metric_summaries("s")}
    assert sorted(sums) == ["acc", "loss"]
    loss = sums["loss"]
    assert loss.kind == "scalar"
    assert loss.count == 5
    assert loss.last_value == 1.25 and loss.last_step == 4
    assert loss.last_timestamp == 1_700_000_004.0
    assert loss.min_value == -2.5 and loss.max_value == 10.0
    assert sums["acc"].count == 1 and sums["acc"].last_value == 0.9


def test_nan_and_inf_are_stored_but_not_counted_in_min_max(store: SqlStore) -> None:
    _run(store, "n")
    nan, inf = float("nan"), float("inf")
    store.ingest("n", source="w", offset=1, last_seq=1, scalars=_scalars("loss", [0, 1, 2], [nan, 2.0, -inf]))
    s = store.metric_summaries("n")[0]
    assert s.count == 3
    assert s.min_value == 2.0 and s.max_value == 2.0  # only the finite values
    assert s.last_value is None  # -inf is not a JSON value: no "last" rather than a wrong one

    store.ingest("n", source="w", offset=2, last_seq=2, scalars=_scalars("loss", [3], [nan]))
    store.ingest("n", source="w", offset=3, last_seq=3, scalars=_scalars("loss", [4], [0.5]))
    s = store.metric_summaries("n")[0]
    assert s.count == 5 and s.last_value == 0.5 and s.last_step == 4
    assert s.min_value == 0.5 and s.max_value == 2.0

    h = store.metric_history("n", "loss")
    assert math.isnan(h.values[0]) and math.isnan(h.values[3])
    assert h.values[1] == 2.0 and h.values[2] == -inf and h.values[4] == 0.5
    np.testing.assert_array_equal(h.steps, [0, 1, 2, 3, 4])


def test_all_nan_metric_has_no_min_max(store: SqlStore) -> None:
    _run(store, "n")
    store.ingest("n", source="w", offset=1, last_seq=1, scalars=_scalars("x", [0, 1], [float("nan")] * 2))
    s = store.metric_summaries("n")[0]
    assert s.count == 2 and s.min_value is None and s.max_value is None and s.last_value is None


def test_many_tiny_batches_merge_into_few_chunks_and_read_back_exactly(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_mod, "CHUNK_MERGE_BELOW", 20)
    _run(store, "tiny")
    expected: list[float] = []
    step = 0
    for batch in range(120):
        n = 1 + batch % 3  # 1, 2 or 3 points per flush
        vals = [step * 0.1 + k * 1e-9 for k in range(n)]
        store.ingest("tiny", source="w", offset=batch + 1, last_seq=batch + 1,
                     scalars=_scalars("loss", range(step, step + n), vals))
        expected += vals
        step += n
    h = store.metric_history("tiny", "loss")
    np.testing.assert_array_equal(h.steps, np.arange(step))
    np.testing.assert_array_equal(h.values, np.array(expected))
    chunks = _chunk_count(store, "tiny", "loss")
    # Each chunk absorbs batches until it holds >= 20 points: ~240 points -> ~11 chunks, not 120.
    assert 1 < chunks <= step // 20 + 1
    assert store.metric_summaries("tiny")[0].count == step


def test_a_large_batch_after_a_small_tail_is_kept_whole(store: SqlStore) -> None:
    _run(store, "big")
    store.ingest("big", source="w", offset=1, last_seq=1, scalars=_scalars("x", [0, 1], [0.0, 1.0]))
    vals = np.linspace(0, 1, 10_000)
    store.ingest("big", source="w", offset=2, last_seq=2,
                 scalars=_scalars("x", range(2, 10_002), vals.tolist()))
    store.ingest("big", source="w", offset=3, last_seq=3, scalars=_scalars("x", [10_002], [7.0]))
    h = store.metric_history("big", "x")
    np.testing.assert_array_equal(h.values, np.concatenate([[0.0, 1.0], vals, [7.0]]))
    np.testing.assert_array_equal(h.steps, np.arange(10_003))


# --------------------------------------------------------------------------- cursors
def test_cursor_starts_at_zero_and_advances_with_each_batch(store: SqlStore) -> None:
    _run(store, "c")
    assert store.get_cursor("c", "w0.jsonl") == (0, 0)
    store.ingest("c", source="w0.jsonl", offset=128, last_seq=4, scalars=_scalars("x", [0], [1.0]))
    assert store.get_cursor("c", "w0.jsonl") == (128, 4)
    store.ingest("c", source="w0.jsonl", offset=4096, last_seq=40)  # a batch with no data still moves it
    store.ingest("c", source="w1.jsonl", offset=7, last_seq=1)
    assert store.get_cursor("c", "w0.jsonl") == (4096, 40)
    assert store.get_cursors("c") == {"w0.jsonl": (4096, 40), "w1.jsonl": (7, 1)}
    offset = 6 * 2**30  # past 4 GiB: a BIGINT
    store.ingest("c", source="w1.jsonl", offset=offset, last_seq=2**40)
    assert store.get_cursor("c", "w1.jsonl") == (offset, 2**40)


def test_a_failed_batch_stores_nothing_and_leaves_the_cursor(store: SqlStore) -> None:
    _run(store, "atomic")
    store.ingest("atomic", source="w", offset=100, last_seq=10, scalars=_scalars("loss", [0], [1.0]),
                 tags={"a": "1"})
    bad = E.MetricObject("bad", "list", {1, 2, 3}, 0, 1.0)  # a set is not JSON: the write fails
    # The JSON encoder refuses the set (SQLAlchemy wraps that TypeError on SQLite, not on PostgreSQL).
    with pytest.raises((TypeError, sa.exc.StatementError), match="Object of type set is not JSON serializable"):
        store.ingest("atomic", source="w", offset=200, last_seq=20,
                     scalars=_scalars("loss", [1, 2], [2.0, 3.0]), objects=[bad], tags={"b": "2"})
    assert store.get_cursor("atomic", "w") == (100, 10)
    np.testing.assert_array_equal(store.metric_history("atomic", "loss").values, [1.0])
    assert store.metric_summaries("atomic")[0].count == 1
    assert store.metric_objects("atomic") == []
    assert store.get_run("atomic").tags == {"a": "1"}


# --------------------------------------------------------------------------- objects, tags, params
def test_objects_round_trip(store: SqlStore) -> None:
    _run(store, "o")
    objs = [
        E.MetricObject("accuracies", "list", [0.5, 0.75, 1.0], 0, 100.0, "per epoch"),
        E.MetricObject("lr_row", "row", {"epoch": 1, "lr": 0.01}, 1, 101.0),
        E.MetricObject("lr_row", "row", {"epoch": 2, "lr": 0.005}, 2, 102.0),
        E.MetricObject("confusion", "table", {"tp": [5, 6], "fp": [1, 0], "label": ["a", "b"]}, 3, 103.0),
        E.MetricObject("roc", "image", {"path": "tracking/roc.png"}, 4, 104.0, "ROC curve"),
        E.MetricObject("unicode", "list", ["élan", "日本", "a\"b'c"], 5, 105.0),
    ]
    store.ingest("o", source="w", offset=1, last_seq=6, objects=objs[:3])
    store.ingest("o", source="w", offset=2, last_seq=9, objects=objs[3:])
    assert store.metric_objects("o") == objs
    assert store.metric_objects("o", "lr_row") == objs[1:3]
    assert store.metric_objects("o", "nosuch") == []
    sums = {m.key: m for m in store.metric_summaries("o")}
    assert sums["lr_row"].kind == "row" and sums["lr_row"].count == 2
    assert sums["lr_row"].last_value == {"epoch": 2, "lr": 0.005} and sums["lr_row"].last_step == 2
    assert sums["roc"].kind == "image" and sums["roc"].last_value == {"path": "tracking/roc.png"}
    assert sums["accuracies"].last_value == [0.5, 0.75, 1.0]
    assert sums["confusion"].min_value is None and sums["confusion"].max_value is None


def test_non_finite_values_inside_objects_do_not_block_ingestion(store: SqlStore, store_url: str) -> None:
    _run(store, "nanlist")
    nan_list = E.MetricObject("curve", "list", [1.0, float("nan"), float("inf"), 2.0], 0, 1.0)
    nan_row = E.MetricObject("row", "row", {"loss": float("-inf"), "epoch": 1}, 1, 2.0)
    store.ingest("nanlist", source="w", offset=10, last_seq=2, objects=[nan_list, nan_row])
    store.ingest("nanlist", source="w", offset=20, last_seq=3, scalars=_scalars("loss", [0], [0.25]))
    assert store.get_cursor("nanlist", "w") == (20, 3)
    curve, row = store.metric_objects("nanlist")
    assert curve.value[0] == 1.0 and curve.value[3] == 2.0
    assert row.value["epoch"] == 1
    if store_url.startswith("sqlite"):  # SQLite keeps JSON as text: NaN/Infinity survive
        assert math.isnan(curve.value[1]) and curve.value[2] == float("inf")
        assert row.value["loss"] == float("-inf")
    else:  # PostgreSQL's json type has no NaN/Infinity: they are stored as null
        assert curve.value[1:3] == [None, None]
        assert row.value["loss"] is None
    np.testing.assert_array_equal(store.metric_history("nanlist", "loss").values, [0.25])


def test_tags_and_params_merge(store: SqlStore) -> None:
    _run(store, "tp", tags={"team": "vision"})
    store.ingest("tp", source="w", offset=1, last_seq=1, tags={"stage": "dev"}, params={"lr": 0.1, "bs": 32})
    store.ingest("tp", source="w", offset=2, last_seq=2, tags={"stage": "prod", "owner": "ana"},
                 params={"lr": 0.05})
    run = store.get_run("tp")
    assert run.tags == {"team": "vision", "stage": "prod", "owner": "ana"}
    assert run.params == {"lr": 0.05, "bs": 32}


# --------------------------------------------------------------------------- models
def test_models_get_increasing_versions(store: SqlStore) -> None:
    _run(store, "trainer")
    placed: list[int] = []

    def where(v: int) -> str:
        placed.append(v)
        return f"/ws/models/resnet/{v}/model.pt"

    m1 = store.add_model(name="resnet", path_for_version=where, run_name="trainer", description="first")
    m2 = store.add_model(name="resnet", path_for_version=where, tags={"acc": 0.9})
    m3 = store.add_model(name="resnet", path_for_version=where)
    other = store.add_model(name="bert", path_for_version=lambda v: f"/ws/models/bert/{v}")
    assert [m1.version, m2.version, m3.version] == [1, 2, 3]
    assert other.version == 1
    assert placed == [1, 2, 3]
    assert m1.path == "/ws/models/resnet/1/model.pt" and m1.run_name == "trainer"
    assert m1.description == "first" and m2.tags == {"acc": 0.9}

    assert store.get_model("resnet").version == 3
    assert store.get_model("resnet", 2) == m2
    assert [(m.name, m.version) for m in store.list_models()] == [
        ("bert", 1), ("resnet", 1), ("resnet", 2), ("resnet", 3)]
    assert [m.version for m in store.list_models("resnet")] == [1, 2, 3]

    store.delete_model_row("resnet", 3)
    assert store.get_model("resnet").version == 2


def test_unknown_model_or_version_is_not_found_with_a_hint(store: SqlStore) -> None:
    store.add_model(name="resnet50", path_for_version=lambda v: f"/m/{v}")
    with pytest.raises(NotFound) as no_version:
        store.get_model("resnet50", 7)
    assert "version 7" in no_version.value.message
    assert no_version.value.hint is not None and "trainyard model list" in no_version.value.hint

    with pytest.raises(NotFound) as typo:
        store.get_model("resnet5")
    assert "resnet5" in typo.value.message
    assert typo.value.hint is not None and "did you mean" in typo.value.hint and "resnet50" in typo.value.hint


# --------------------------------------------------------------------------- data assets
def test_data_asset_versions(store: SqlStore) -> None:
    d1 = store.add_data_asset(name="mnist", path="/data/mnist-v1", kind="uri_folder", description="raw")
    d2 = store.add_data_asset(name="mnist", path="/data/mnist-v2", kind="uri_folder")
    u1 = store.add_data_asset(name="labels", path="https://example.com/l.csv", kind="uri_file")
    assert (d1.version, d2.version, u1.version) == (1, 2, 1)
    latest = store.get_data_asset("mnist")
    assert latest.version == 2 and latest.path == "/data/mnist-v2"
    first = store.get_data_asset("mnist", 1)
    assert first.path == "/data/mnist-v1" and first.description == "raw" and first.kind == "uri_folder"
    assert [(d.name, d.version) for d in store.list_data_assets()] == [("labels", 1), ("mnist", 1), ("mnist", 2)]
    with pytest.raises(NotFound, match="version 3"):
        store.get_data_asset("mnist", 3)
    with pytest.raises(NotFound) as missing:
        store.get_data_asset("cifar")
    assert missing.value.hint is not None and "trainyard data list" in missing.value.hint


# --------------------------------------------------------------------------- scale (SQLite only)
def test_a_million_points_in_50k_batches_read_back_exactly(tmp_path: Any) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'big.db'}")
    try:
        _run(store, "million")
        n, batch = 1_000_000, 50_000
        rng = np.random.default_rng(1)
        values = rng.standard_normal(n)
        values[123_456] = np.nan
        steps = np.arange(n, dtype=np.int64) * 3
        stamps = 1_700_000_000.0 + np.arange(n) / 1000.0
        for i, lo in enumerate(range(0, n, batch)):
            hi = lo + batch
            store.ingest("million", source="w", offset=hi, last_seq=i + 1,
                         scalars={"loss": (steps[lo:hi], values[lo:hi], stamps[lo:hi])})
        h = store.metric_history("million", "loss")
        assert len(h) == n
        np.testing.assert_array_equal(h.steps, steps)
        np.testing.assert_array_equal(h.values, values)  # NaN compares equal here, by position
        np.testing.assert_array_equal(h.timestamps, stamps)
        s = store.metric_summaries("million")[0]
        finite = values[np.isfinite(values)]
        assert s.count == n
        assert s.last_value == values[-1] and s.last_step == steps[-1]
        assert s.min_value == finite.min() and s.max_value == finite.max()
        assert store.get_cursor("million", "w") == (n, n // batch)
    finally:
        store.close()


# --------------------------------------------------------------------------- the protocol
def test_sql_store_implements_the_store_protocol(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every method of engine.store.Store exists on SqlStore with the same parameters."""
    import inspect

    from engine.store import Store
    from engine.store.protocol import ComputeStore, EnvironmentStore, MetricStore, RegistryStore, RunStore

    store = SqlStore(f"sqlite:///{tmp_path / 'ws.db'}")
    try:
        assert isinstance(store, Store)
        for part in (RunStore, MetricStore, RegistryStore, EnvironmentStore, ComputeStore, Store):
            for name, member in vars(part).items():
                if name.startswith("_") or not callable(member):
                    continue
                wanted = list(inspect.signature(member).parameters)
                assert list(inspect.signature(getattr(SqlStore, name)).parameters) == wanted, name
    finally:
        store.close()


def test_public_methods_return_frozen_entities_never_rows(store: SqlStore, tmp_path: Any) -> None:
    """ORM rows never leave the store: every read (and write that returns something) gives frozen
    dataclasses, plain values or numpy arrays."""
    import dataclasses

    from engine.entities import EnvironmentSpec
    from engine.store.models import Base

    _run(store, "parent")
    _run(store, "child", parent_name="parent")
    store.ingest("parent", source="a", offset=1, last_seq=1, scalars={"loss": ([0, 1], [1.0, 0.5], [1.0, 2.0])},
                 objects=[E.MetricObject("rows", "row", {"a": 1}, 0, 1.0)], tags={"t": "v"}, params={"p": 1})
    results: list[Any] = [
        store.get_or_create_experiment("mnist"), store.list_experiments(), store.get_run("parent"),
        store.list_runs(), store.list_children("parent"), store.query_runs(), store.runs_changed_since(0),
        store.request_cancel("child"), store.count_runs(), store.archived_among(["parent"]),
        store.runs_holding_or_awaiting("local", "parent"), store.supervisor_started("parent"),
        store.latest_values(["parent"], ["loss"]), store.metric_keys(), store.get_cursor("parent", "a"),
        store.get_cursors("parent"), store.metric_summaries("parent"), store.metric_history("parent", "loss"),
        store.metric_histories_since("parent", {"loss": 0}), store.metric_objects("parent"),
        store.add_model(name="m", path_for_version=lambda v: tmp_path / str(v)), store.get_model("m"),
        store.list_models(), store.add_data_asset(name="d", path="/d", kind="uri_folder"), store.get_data_asset("d"),
        store.list_data_assets(), store.add_environment(EnvironmentSpec(name="env", image="python:3.11")),
        store.get_environment("env"), store.list_environments(), store.environment_created_at("env", 1),
        store.add_compute_target("box", "docker", {"network": "host"}), store.get_compute_target("box"),
        store.list_compute_targets(), store.delete_compute_target("box"),
    ]

    def check(value: Any) -> None:
        assert not isinstance(value, Base), f"an ORM row left the store: {value!r}"
        if dataclasses.is_dataclass(value):
            assert type(value).__dataclass_params__.frozen, f"{type(value).__name__} is not frozen"  # type: ignore[attr-defined]
            for f in dataclasses.fields(value):
                check(getattr(value, f.name))
        elif isinstance(value, dict):
            for k, v in value.items():
                check(k)
                check(v)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                check(v)

    for result in results:
        check(result)
