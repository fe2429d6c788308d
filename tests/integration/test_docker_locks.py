"""A Docker environment's lock with the real daemon: the image id and `pip freeze` inside it; the
locked spec (the image id itself) gives a build whose image is that very image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built
from engine.environments.lock import locked_spec, read_lock

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
