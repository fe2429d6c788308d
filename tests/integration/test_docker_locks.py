"""A Docker environment's lock with the real daemon: the image id and `pip freeze` inside it; the
locked spec (the image id itself) gives a build whose image is that very image; a re-run whose
locked image was removed is refused before anything is built, naming the image."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built
from engine.environments.lock import locked_spec, read_lock
from engine.environments.rebuild import plan_rebuild
from engine.errors import InvalidState
from engine.jobs.spec import JobSpec

BASE_IMAGE = "trainyard-test-base:latest"  # made by tests/infra/docker_setup.sh


def test_a_docker_lock_is_the_image_id_and_the_pip_packages_inside(
    docker_client: Any, tmp_path: Path
) -> None:
    spec = EnvironmentSpec(name="docker-pip", image=BASE_IMAGE, pip_requirements=("six",))
    cache = tmp_path / "envs"
    built = ensure_built(spec, cache, BuildLog(None), docker=docker_client)
    lock = read_lock(Path(built.lock or ""))
    assert lock is not None and lock.kind == "docker"
    assert built.image is not None and lock.image_id == docker_client.images.get(built.image).id
    assert "six" in {p.name.lower() for p in lock.packages}
    again = ensure_built(spec, cache, BuildLog(None), docker=docker_client)
    assert again.cached and read_lock(Path(again.lock or "")).id == lock.id  # type: ignore[union-attr]

    pinned = locked_spec(spec, lock)
    assert pinned.image == lock.image_id and pinned.pip_requirements is None
    rebuilt = ensure_built(pinned, cache, BuildLog(None), docker=docker_client)
    assert rebuilt.image is not None and docker_client.images.get(rebuilt.image).id == lock.image_id


def test_a_docker_rerun_is_refused_when_its_locked_image_is_gone(docker_client: Any, tmp_path: Path) -> None:
    spec = EnvironmentSpec(name="docker-gone", image=BASE_IMAGE, pip_requirements=("six==1.17.0",))
    cache = tmp_path / "envs"
    built = ensure_built(spec, cache, BuildLog(None), docker=docker_client)
    lock = read_lock(Path(built.lock or ""))
    assert lock is not None and lock.image_id
    assert plan_rebuild(spec, lock, cache, "run-1").image == lock.image_id  # still there: goes ahead

    docker_client.images.remove(lock.image_id, force=True)
    with pytest.raises(InvalidState) as err:
        plan_rebuild(spec, lock, cache, "run-1")
    msg = err.value.message
    assert f"job 'run-1' cannot be re-run from its environment lock {lock.id}" in msg
    assert f"its image {lock.image_id} is gone from this Docker daemon" in msg
    assert f"would build {BASE_IMAGE} again with pip requirements six==1.17.0" in msg
    assert "six==1.17.0" in msg.rsplit("the lock had", 1)[1]  # the locked pip packages, listed
    assert "--from-spec" in (err.value.hint or "")


def test_rerunning_a_docker_job_whose_image_is_gone_records_nothing(docker_client: Any, tmp_path: Path) -> None:
    code = tmp_path / "p"
    code.mkdir()
    (code / "main.py").write_text("import six\nprint('six', six.__version__)\n")
    # A comment unique to this test run makes the spec (and so the image) new.
    env = EnvironmentSpec(name="docker-rerun", image=BASE_IMAGE, pip_requirements=("six", f"# {time.time_ns()}"))
    eng = Engine.open(tmp_path / "ws")
    try:
        run = eng.submit(JobSpec(experiment_name="locks", code_dir=code, script="main.py", environment_spec=env))
        final = eng.wait(run.name, timeout=300)
        assert final.status == "Completed", final.error
        lock = eng.run_lock(run.name)
        assert lock is not None and lock.kind == "docker" and lock.image_id

        docker_client.images.remove(lock.image_id, force=True)
        before = {r.name for r in eng.list_runs()}
        folders = sorted(p.name for p in eng.location.runs_dir.iterdir())
        with pytest.raises(InvalidState) as err:
            eng.rerun(run.name)
        assert f"its image {lock.image_id} is gone from this Docker daemon" in err.value.message
        assert {r.name for r in eng.list_runs()} == before
        assert sorted(p.name for p in eng.location.runs_dir.iterdir()) == folders
    finally:
        eng.close()
