"""The paged runs query behind the studio's runs table: filter, sort, page, count, archived,
latest metric values and metric keys. On SQLite, and on PostgreSQL through the same code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.store.runquery import RUN_SORTS
from engine.store.sql import SqlStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server = request.getfixturevalue("postgres_url")
        db = f"q_{tmp_path.name.lower().replace('-', '_')[-40:]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
        admin.dispose()
        url = server.rsplit("/", 1)[0] + f"/{db}"
    s = SqlStore(url)
    yield s
    s.close()


def _seed(store: SqlStore) -> None:
    """Five runs with distinct start times, statuses, experiments and computes."""
    rows = [  # name, experiment, compute, start, end, final status
        ("calm_river_1", "alpha", "local", 100.0, 110.0, "Completed"),
        ("brave_otter_2", "beta", "docker", 200.0, 290.0, "Failed"),
        ("Apple_pie_3", "alpha", "gpu-box", 300.0, None, "Running"),
        ("zesty_lemon_4", "gamma", "local", None, None, "Queued"),
        ("quiet_heron_5", "beta", "local", 50.0, 52.0, "Canceled"),
    ]
    for name, exp, compute, start, end, status in rows:
        store.create_run(name=name, experiment_name=exp, run_dir=f"/tmp/{name}", compute=compute)
        if start is not None:
            store.set_status(name, "Running", at=start)
        if status != "Running":
            store.set_status(name, status, at=end)
    # A run not yet started sorts by its submission time.
    store.update_run("zesty_lemon_4", created_at=400.0)


def _names(runs) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.name for r in runs]


def test_sorts_are_done_by_the_store(store: SqlStore) -> None:
    _seed(store)
    assert _names(store.query_runs()) == ["zesty_lemon_4", "Apple_pie_3", "brave_otter_2", "calm_river_1",
                                          "quiet_heron_5"]
    assert _names(store.query_runs(sort="start", descending=False))[0] == "quiet_heron_5"
    assert _names(store.query_runs(sort="name", descending=False)) == [
        "Apple_pie_3", "brave_otter_2", "calm_river_1", "quiet_heron_5", "zesty_lemon_4"]  # any case
    # Lifecycle order: Queued < Running < Completed < Failed < Canceled.
    assert _names(store.query_runs(sort="status", descending=False)) == [
        "zesty_lemon_4", "Apple_pie_3", "calm_river_1", "brave_otter_2", "quiet_heron_5"]
    assert _names(store.query_runs(sort="experiment", descending=False))[-1] == "zesty_lemon_4"
    assert _names(store.query_runs(sort="compute", descending=False))[:1] == ["brave_otter_2"]
    by_duration = _names(store.query_runs(sort="duration"))
    assert by_duration[0] == "Apple_pie_3"  # still running since t=300: the longest
    assert by_duration[1:4] == ["brave_otter_2", "calm_river_1", "quiet_heron_5"]
    assert by_duration[-1] == "zesty_lemon_4"  # never started
    for sort in RUN_SORTS:
        assert len(store.query_runs(sort=sort)) == 5
    with pytest.raises(ValueError, match="unknown run sort"):
        store.query_runs(sort="colour")


def test_pages_neither_overlap_nor_skip(store: SqlStore) -> None:
    for i in range(23):
        store.create_run(name=f"r{i:02d}", experiment_name="e", run_dir=f"/tmp/r{i}")
        store.update_run(f"r{i:02d}", created_at=1000.0 + i // 4)  # ties on the sort key
    for sort in ("start", "status", "compute"):
        pages = [store.query_runs(sort=sort, offset=o, limit=5) for o in range(0, 25, 5)]
        names = [n for page in pages for n in _names(page)]
        assert sorted(names) == [f"r{i:02d}" for i in range(23)], sort
    assert store.query_runs(offset=20, limit=5)[-1].name == "r00"
    assert store.query_runs(offset=30) == []
    # Told the count, the store reads pages past the middle from the other end: the same rows.
    for sort, descending in (("start", True), ("name", False), ("status", True)):
        whole = _names(store.query_runs(sort=sort, descending=descending, limit=100))
        for offset in (0, 9, 12, 18, 20, 22, 23, 30):
            page = store.query_runs(sort=sort, descending=descending, offset=offset, limit=5, count=23)
            assert _names(page) == whole[offset:offset + 5], (sort, offset)


def test_filter_matches_any_column_in_any_case(store: SqlStore) -> None:
    _seed(store)
    assert store.count_runs(text="") == 5
    assert _names(store.query_runs(text="BETA")) == ["brave_otter_2", "quiet_heron_5"]
    assert store.count_runs(text="beta") == 2
    assert _names(store.query_runs(text="gpu")) == ["Apple_pie_3"]
    assert _names(store.query_runs(text="failed")) == ["brave_otter_2"]
    assert _names(store.query_runs(text="apple")) == ["Apple_pie_3"]
    assert store.count_runs(text="no such run") == 0
    assert store.query_runs(text="100%_") == []  # LIKE wildcards are literal


def test_archived_runs_are_hidden_unless_asked_for(store: SqlStore) -> None:
    _seed(store)
    store.update_run("calm_river_1", archived=True)
    assert "calm_river_1" not in _names(store.query_runs())
    assert store.count_runs(include_archived=False) == 4
    assert store.count_runs() == 5  # every run, as before
    assert "calm_river_1" in _names(store.query_runs(include_archived=True))
    assert store.count_runs(text="alpha", include_archived=False) == 1
    assert store.archived_among(["calm_river_1", "brave_otter_2", "ghost"]) == {"calm_river_1"}
    assert store.archived_among([]) == set()


def test_latest_values_and_metric_keys(store: SqlStore) -> None:
    _seed(store)
    store.ingest("calm_river_1", source="a", offset=1, last_seq=1,
                 scalars={"loss": ([0, 1, 2], [0.9, 0.5, 0.25], [1.0, 2.0, 3.0]), "acc": ([0], [0.7], [1.0])})
    store.ingest("brave_otter_2", source="a", offset=1, last_seq=1,
                 scalars={"loss": ([0], [2.0], [1.0])})
    from engine import entities as E

    store.ingest("brave_otter_2", source="b", offset=1, last_seq=1,
                 objects=[E.MetricObject("confusion", "table", {"a": [1]}, 0, 1.0)])
    got = store.latest_values(["calm_river_1", "brave_otter_2", "quiet_heron_5"], ["loss", "acc", "confusion"])
    assert got == {"calm_river_1": {"loss": 0.25, "acc": 0.7}, "brave_otter_2": {"loss": 2.0}}
    assert store.latest_values([], ["loss"]) == {} == store.latest_values(["calm_river_1"], [])
    assert store.metric_keys() == ["acc", "loss"]  # scalar keys only
    assert store.metric_keys(limit=1) == ["acc"]


def test_sort_by_a_metrics_latest_value_puts_runs_without_it_last(store: SqlStore) -> None:
    _seed(store)
    store.ingest("calm_river_1", source="a", offset=1, last_seq=1,
                 scalars={"acc": ([0, 1], [0.2, 0.91], [1.0, 2.0])})
    store.ingest("brave_otter_2", source="a", offset=1, last_seq=1, scalars={"acc": ([0], [0.5], [1.0])})
    store.ingest("quiet_heron_5", source="a", offset=1, last_seq=1, scalars={"acc": ([0], [10.0], [1.0])})
    best_first = _names(store.query_runs(sort="metric:acc", descending=True))
    # Numeric order (10 > 0.91 > 0.5, not text order), runs without `acc` after, most recently submitted first.
    assert best_first == ["quiet_heron_5", "calm_river_1", "brave_otter_2", "Apple_pie_3", "zesty_lemon_4"]
    worst_first = _names(store.query_runs(sort="metric:acc", descending=False))
    assert worst_first[:3] == ["brave_otter_2", "calm_river_1", "quiet_heron_5"]
    assert set(worst_first[3:]) == {"zesty_lemon_4", "Apple_pie_3"}
    assert _names(store.query_runs(sort="metric:acc", offset=1, limit=2)) == best_first[1:3]


def test_sort_by_a_parameter_numbers_as_numbers_then_text_runs_without_it_last(store: SqlStore) -> None:
    _seed(store)
    store.ingest("calm_river_1", source="a", offset=1, last_seq=1, params={"lr": "0.01"})
    store.ingest("brave_otter_2", source="a", offset=1, last_seq=1, params={"lr": "1e-3"})
    store.ingest("quiet_heron_5", source="a", offset=1, last_seq=1, params={"lr": "0.1"})
    store.ingest("Apple_pie_3", source="a", offset=1, last_seq=1, params={"lr": "auto"})
    up = _names(store.query_runs(sort="param:lr", descending=False))
    # 1e-3 < 0.01 < 0.1 (as numbers: as text '1e-3' would come last), then the text, then no lr.
    assert up == ["brave_otter_2", "calm_river_1", "quiet_heron_5", "Apple_pie_3", "zesty_lemon_4"]
    down = _names(store.query_runs(sort="param:lr", descending=True))
    assert down == ["quiet_heron_5", "calm_river_1", "brave_otter_2", "Apple_pie_3", "zesty_lemon_4"]
    assert _names(store.query_runs(sort="param:lr", offset=1, limit=2)) == down[1:3]


def test_tags_filter_and_sort_runs_without_tags_last(store: SqlStore) -> None:
    _seed(store)
    store.update_run("calm_river_1", tags={"team": "vision", "stage": "prod"})
    store.update_run("brave_otter_2", tags={"Team": "audio"})
    store.update_run("quiet_heron_5", tags={"owner": "ana"})
    assert _names(store.query_runs(text="VISION")) == ["calm_river_1"]
    assert _names(store.query_runs(text="team")) == ["brave_otter_2", "calm_river_1"]
    assert store.count_runs(text="owner") == 1
    # By the first tag's key then value, in any case; untagged runs last either way.
    assert _names(store.query_runs(sort="tags", descending=False)) == [
        "quiet_heron_5", "brave_otter_2", "calm_river_1", "zesty_lemon_4", "Apple_pie_3"]
    assert _names(store.query_runs(sort="tags", descending=True)) == [
        "calm_river_1", "brave_otter_2", "quiet_heron_5", "Apple_pie_3", "zesty_lemon_4"]


# ------------------------------------------------------------------ MLflow search syntax
def _seed_search(store: SqlStore) -> None:
    """Four runs with a val_loss metric, an lr parameter and a stage tag."""
    rows = [  # name, val_loss, lr, stage, status
        ("r_small_lr", 0.2, 1e-4, "dev", "Completed"),
        ("r_good", 0.25, 0.01, "dev", "Completed"),
        ("r_prod", 0.1, 0.05, "prod", "Failed"),
        ("r_bad", 0.9, "0.1", "dev", "Completed"),  # lr logged as text: still a number
    ]
    for name, loss, lr, stage, status in rows:
        store.create_run(name=name, experiment_name="search", run_dir=f"/tmp/{name}", tags={"stage": stage})
        store.set_status(name, "Running", at=10.0)
        store.ingest(name, source="t", offset=1, last_seq=1,
                     scalars={"val_loss": ([0, 1], [loss + 1.0, loss], [1.0, 2.0])}, params={"lr": lr})
        store.set_status(name, status, at=20.0)
    store.create_run(name="r_no_metrics", experiment_name="other", run_dir="/tmp/x",
                     tags={"stage": "dev"})
    store.ingest("r_no_metrics", source="t", offset=1, last_seq=1, params={"lr": "adam-default"})


def test_search_syntax_is_evaluated_by_the_store(store: SqlStore) -> None:
    _seed_search(store)
    q = "metrics.val_loss < 0.3 and params.lr > 1e-3 and tags.stage = 'dev'"
    assert _names(store.query_runs(text=q)) == ["r_good"]
    assert store.count_runs(text=q) == 1
    # the latest value counts (the first points were all above 1)
    assert sorted(_names(store.query_runs(text="metrics.val_loss <= 0.25"))) == ["r_good", "r_prod", "r_small_lr"]
    assert sorted(_names(store.query_runs(text="params.lr >= 0.05"))) == ["r_bad", "r_prod"]  # '0.1' as text too
    assert _names(store.query_runs(text="params.lr = 'adam-default'")) == ["r_no_metrics"]
    assert sorted(_names(store.query_runs(text="tags.stage != 'dev'"))) == ["r_prod"]
    assert sorted(_names(store.query_runs(text="tags.stage LIKE 'pr%'"))) == ["r_prod"]
    assert sorted(_names(store.query_runs(text="tags.stage ILIKE 'DE%' AND metrics.val_loss > 0.5"))) == ["r_bad"]
    assert _names(store.query_runs(text="attributes.status = 'Failed'")) == ["r_prod"]
    assert sorted(_names(store.query_runs(text="attributes.status IN ('Failed', 'NotStarted')"))) == [
        "r_no_metrics", "r_prod"]
    assert _names(store.query_runs(text="attributes.experiment = 'other'")) == ["r_no_metrics"]
    assert store.count_runs(text="attributes.type = 'command'") == 5
    assert store.query_runs(text="metrics.missing > 0") == []
    # plain words still find names
    assert _names(store.query_runs(text="prod")) == ["r_prod"]


@pytest.mark.parametrize(("query", "message"), [
    ("metrics.val_loss < 'low'", "column 20: metrics.val_loss is a number: compare it with a number"),
    ("metrics.val_loss", "expected a comparison after metrics.val_loss at the end"),
    ("metrics.val_loss < 0.3 or params.lr > 1", "column 24: OR is not supported"),
    ("params.lr ~ 3", "column 11: unexpected '~'"),
    ("attributes.colour = 'red'", "column 1: no attribute 'colour'"),
    ("tags.stage = 'dev' metrics.x > 1", "column 20: expected AND between clauses"),
])
def test_search_mistakes_name_the_column_and_nothing_is_returned(store: SqlStore, query: str, message: str) -> None:
    from engine.errors import InvalidSpec

    with pytest.raises(InvalidSpec) as info:
        store.query_runs(text=query)
    assert message in str(info.value)
    assert "metrics.val_loss < 0.3" in (info.value.hint or "")  # says how to write one


def test_top_level_leaves_children_out_and_child_counts_counts_them(store: SqlStore) -> None:
    _seed(store)
    for i in range(3):
        store.create_run(name=f"calm_river_1_{i}", experiment_name="alpha", run_dir="/tmp/t", compute="local",
                         parent_name="calm_river_1")
    store.create_run(name="step_a", experiment_name="beta", run_dir="/tmp/s", compute="local",
                     parent_name="brave_otter_2")
    assert len(store.query_runs()) == 9 and store.count_runs() == 9
    top = _names(store.query_runs(top_level=True))
    assert sorted(top) == sorted(["calm_river_1", "brave_otter_2", "Apple_pie_3", "zesty_lemon_4", "quiet_heron_5"])
    assert store.count_runs(top_level=True) == 5
    assert store.count_runs(text="calm", top_level=True) == 1 and store.count_runs(text="calm") == 4
    assert store.child_counts(top) == {"calm_river_1": 3, "brave_otter_2": 1}
    assert store.child_counts([]) == {}
    store.update_run("step_a", archived=True)
    assert store.child_counts(top, include_archived=False) == {"calm_river_1": 3}


def test_an_experiment_another_process_creates_meanwhile_is_the_one_used(store: SqlStore) -> None:
    """Two submits of a new experiment at once (two machines of a team workspace): the one whose
    insert loses the race uses the experiment the other created, and says nothing."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    other = SqlStore(store.url)
    raced: list[int] = []

    def meanwhile(session: Session, _ctx: object, _instances: object) -> None:
        if not raced:  # between this submit's read (no such experiment) and its insert
            raced.append(0)  # (the other store's own flush comes here too)
            raced[0] = other.get_or_create_experiment("team-new").id

    event.listen(Session, "before_flush", meanwhile)
    try:
        got = store.get_or_create_experiment("team-new")
    finally:
        event.remove(Session, "before_flush", meanwhile)
        other.close()
    assert raced == [got.id]
    assert [e.name for e in store.list_experiments()] == ["team-new"]


# ------------------------------------------------------------------ SQLite's trigram index
@pytest.mark.parametrize("walk_min", [0, 10_000])
def test_the_trigram_index_answers_as_the_scan_does_and_follows_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walk_min: int
) -> None:
    """The filter box on SQLite reads runs_search (engine.store.textsearch); the same questions
    asked of a plain LIKE scan of the same database give the same runs, in the same order, after
    runs are added, change status, get tags, are archived and brought back. Both page plans (walk
    the sort's index, or sort the few matches) are taken, through WALK_MIN_MATCHES."""
    import engine.store.sql.runs as runs_mod

    monkeypatch.setattr(runs_mod, "WALK_MIN_MATCHES", walk_min)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    indexed, scanned = SqlStore(url), SqlStore(url)
    scanned.__dict__["_search_index"] = False  # the LIKE scan the index replaces
    try:
        assert indexed._search_index
        _seed(indexed)
        for i in range(40):
            indexed.create_run(name=f"bulk_{i:03d}", experiment_name=f"exp-{i % 4}", run_dir=f"/tmp/b{i}",
                               compute="gpu-box" if i % 5 == 0 else "local", tags={"seed": str(i % 3)})
        indexed.set_status("bulk_007", "Failed", at=7.0)
        indexed.update_run("bulk_011", tags={"owner": "Zoë"}, display_name="Eleventh")
        indexed.update_run("bulk_012", archived=True)
        indexed.update_run("calm_river_1", archived=True)
        indexed.update_run("calm_river_1", archived=False)
        queries = ["exp-1", "EXP-2", "failed", "gpu-box", '"seed": "2"', "zoë", "eleventh", "bulk_01", "alpha",
                   "no such run", "100%_", "ex", 'a"b']
        for text in queries:
            for sort, descending in (("start", True), ("name", False), ("status", True)):
                want = _names(scanned.query_runs(text=text, sort=sort, descending=descending, limit=500))
                got = _names(indexed.query_runs(text=text, sort=sort, descending=descending, limit=500))
                assert got == want, (text, sort)
                page = _names(indexed.query_runs(text=text, sort=sort, descending=descending, offset=3, limit=4))
                assert page == want[3:7], (text, sort)
            assert indexed.count_runs(text=text, include_archived=False) == scanned.count_runs(
                text=text, include_archived=False), text
        assert "bulk_012" not in _names(indexed.query_runs(text="bulk_012"))
        assert _names(indexed.query_runs(text="bulk_012", include_archived=True)) == ["bulk_012"]
        assert indexed.count_runs(text="failed", include_archived=False) == 2  # bulk_007 and brave_otter_2
        assert _names(indexed.query_runs(text="calm_river")) == ["calm_river_1"]  # archived, then back
    finally:
        indexed.close()
        scanned.close()
