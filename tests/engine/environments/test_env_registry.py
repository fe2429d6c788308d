"""Registered environments: versions, lookups, reserved names, the migration that adds them, and
`trainyard environment create/list/show` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from engine.entities import EnvironmentSpec
from engine.environments.resolve import register_environment, resolve_environment
from engine.errors import InvalidSpec, NotFound
from engine.specs.environment import load_environment_yaml
from engine.store.schema import HEAD_REVISION, alembic_config, current_revision
from engine.store.sql import SqlStore, make_engine

_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    db = f"env_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        yield sa.engine.make_url(postgres_url).set(database=db).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = SqlStore(url)
    yield s
    s.close()


def conda_spec(name: str, *packages: str) -> EnvironmentSpec:
    return EnvironmentSpec(name=name, conda={"name": None, "channels": ["conda-forge"],
                                             "dependencies": sorted(packages or ("python=3.11",))})


# --------------------------------------------------------------------------- store
def test_versions_count_up_and_latest_is_the_newest(store: SqlStore) -> None:
    versions = [store.add_environment(conda_spec("my-env", f"numpy=1.2{i}")).version for i in range(3)]
    assert versions == [1, 2, 3]
    assert store.get_environment("my-env").version == 3
    assert store.get_environment("my-env").conda["dependencies"] == ["numpy=1.22"]  # type: ignore[index]
    assert store.get_environment("my-env", 2).conda["dependencies"] == ["numpy=1.21"]  # type: ignore[index]
    assert [(s.name, s.version) for s in store.list_environments()] == [("my-env", 1), ("my-env", 2), ("my-env", 3)]
    assert store.list_environments("other") == []


def test_a_registered_spec_comes_back_unchanged(store: SqlStore, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch==2.14.1\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("pandas==3.1.1\n")
    (tmp_path / "env.yml").write_text(textwrap.dedent("""\
        name: roundtrip
        description: one of each
        image: python:3.11-slim
        pip_requirements: requirements.txt
        environment_variables: {MODE: fast, N: 2}
        """))
    spec = load_environment_yaml(tmp_path / "env.yml")
    registered = store.add_environment(spec)
    assert registered == replace(spec, version=1)
    assert registered.build_hash() == spec.build_hash()
    assert store.get_environment("roundtrip") == registered


def test_an_explicit_free_version_is_used_and_auto_continues_after_it(store: SqlStore) -> None:
    assert store.add_environment(replace(conda_spec("e"), version=5)).version == 5
    assert store.add_environment(conda_spec("e")).version == 6
    assert store.add_environment(replace(conda_spec("e"), version=2)).version == 2
    assert [s.version for s in store.list_environments("e")] == [2, 5, 6]


def test_a_taken_explicit_version_is_a_clear_error(store: SqlStore) -> None:
    store.add_environment(conda_spec("e"))
    store.add_environment(conda_spec("e"))
    with pytest.raises(InvalidSpec) as info:
        store.add_environment(replace(conda_spec("e", "numpy"), version=2))
    assert "'e' already has a version 2" in info.value.message
    assert "version 3" in (info.value.hint or "")  # says which version leaving it out would give
    assert [s.version for s in store.list_environments("e")] == [1, 2]


def test_unknown_names_and_versions_suggest_what_exists(store: SqlStore) -> None:
    store.add_environment(conda_spec("image-classifier"))
    with pytest.raises(NotFound) as info:
        store.get_environment("image-clasifier")
    assert info.value.hint == "did you mean image-classifier?"
    with pytest.raises(NotFound) as info:
        store.get_environment("image-classifier", 7)
    assert "no version 7" in info.value.message and "1" in (info.value.hint or "")


@pytest.mark.parametrize("name", ["AzureML-PyTorch-1.6-CPU", "azureml-mine", "trainyard-python", "Trainyard-x"])
def test_reserved_prefixes_cannot_be_registered(store: SqlStore, name: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        store.add_environment(conda_spec(name))
    assert "reserved for curated environments" in info.value.message and info.value.hint
    assert store.list_environments() == []


def test_concurrent_registrations_get_distinct_versions(store: SqlStore) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            results.append(store.add_environment(conda_spec("busy", f"pkg{i}")).version)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [1, 2, 3, 4]


def test_registered_environments_come_before_curated_ones(store: SqlStore) -> None:
    mine = store.add_environment(conda_spec("sklearn-1.5", "scikit-learn=1.5"))
    assert resolve_environment(store, "azureml:sklearn-1.5@latest") == mine
    assert resolve_environment(store, "sklearn-1.5:1") == mine
    # a registry reference always means the curated one
    curated = resolve_environment(store, "azureml://registries/azureml/environments/sklearn-1.5/labels/latest")
    assert curated.curated and curated.name == "trainyard-sklearn"
    # a registered name with a missing version does not fall through to the curated one
    with pytest.raises(NotFound) as info:
        resolve_environment(store, "sklearn-1.5:4")
    assert "no version 4" in info.value.message


def test_register_reuses_an_unchanged_latest_version_when_asked(store: SqlStore) -> None:
    first = register_environment(store, conda_spec("same"), reuse_identical=True)
    again = register_environment(store, conda_spec("same"), reuse_identical=True)
    changed = register_environment(store, conda_spec("same", "numpy"), reuse_identical=True)
    assert (first.version, again.version, changed.version) == (1, 1, 2)
    assert register_environment(store, conda_spec("same", "numpy")).version == 3  # CLI: always a new one


def test_a_workspace_from_before_environments_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = make_engine(url)
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "0001_initial")
    eng.dispose()
    old = make_engine(url)
    assert current_revision(old) == "0001_initial"
    old.dispose()
    store = SqlStore(url)  # opening migrates
    try:
        assert current_revision(store.engine) == HEAD_REVISION
        assert store.add_environment(conda_spec("after-upgrade")).version == 1
    finally:
        store.close()


# --------------------------------------------------------------------------- CLI
def trainyard(*args: str, workspace: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(workspace)}
    return subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_cli_create_list_show_with_json(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "conda.yml").write_text("channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip:\n    - rich\n")
    (proj / "env.yml").write_text("name: cli-env\ndescription: from the CLI\nconda_file: conda.yml\n")

    created = [trainyard("environment", "create", "-f", "env.yml", "-o", "json", workspace=ws, cwd=proj)
               for _ in range(2)]
    for res in created:
        assert res.returncode == 0, res.stderr
    docs = [json.loads(res.stdout) for res in created]
    assert [d["version"] for d in docs] == [1, 2]
    assert docs[0]["name"] == "cli-env" and docs[0]["kind"] == "conda" and docs[0]["curated"] is False
    assert docs[0]["conda"]["dependencies"] == ["python=3.11", {"pip": ["rich"]}]
    assert docs[0]["conda_source"] == str((proj / "conda.yml").resolve())
    assert docs[0]["creation_time"].endswith("+00:00")

    listed = trainyard("environment", "list", "-o", "json", workspace=ws)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["version"], r["curated"]) for r in rows if not r["curated"]] == [
        ("cli-env", 1, False), ("cli-env", 2, False)]
    assert {r["name"] for r in rows if r["curated"]} == {
        "trainyard-python", "trainyard-pytorch-cpu", "trainyard-sklearn", "trainyard-lightgbm",
        "trainyard-tensorflow-cpu"}

    for ref, version in (("cli-env", 2), ("cli-env@latest", 2), ("cli-env:1", 1), ("azureml:cli-env:1", 1)):
        shown = trainyard("environment", "show", "-n", ref, "-o", "json", workspace=ws)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["version"] == version, ref

    curated = trainyard("environment", "show", "-n", "AzureML-PyTorch-1.6-CPU", "-o", "json", workspace=ws)
    doc = json.loads(curated.stdout)
    assert doc["name"] == "trainyard-pytorch-cpu" and doc["curated"] is True
    assert doc["pip_requirements"] == ["torch==2.14.1", "torchvision==0.29.1"]

    table = trainyard("environment", "list", workspace=ws)
    assert table.returncode == 0 and "curated" in table.stdout and "registered" in table.stdout


def test_cli_errors_are_one_message_with_a_hint(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (tmp_path / "reserved.yml").write_text("name: AzureML-Mine\nimage: python:3.11\n")
    (tmp_path / "typo.yml").write_text("name: ok\nimage: python:3.11\ndescriptoin: typo\n")
    cases = [
        (("environment", "create", "-f", str(tmp_path / "reserved.yml")), "reserved for curated environments"),
        (("environment", "create", "-f", str(tmp_path / "typo.yml")),
         f"{tmp_path / 'typo.yml'}:3: unknown key 'descriptoin'"),
        (("environment", "show", "-n", "AzureML-PyTorch-1.6-CPUU"), "did you mean AzureML-PyTorch-1.6-CPU"),
        (("environment", "show", "-n", "nothing-like-it:3"), "no environment named 'nothing-like-it'"),
        (("environment", "show", "-n", "x@newest"), "unknown label 'newest'"),
    ]
    for args, needle in cases:
        res = trainyard(*args, "-o", "json", workspace=ws)
        assert res.returncode == 1 and res.stdout == "", (args, res.stdout, res.stderr)
        assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
        assert needle in res.stderr, (needle, res.stderr)
