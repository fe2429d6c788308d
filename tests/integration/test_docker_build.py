"""Environment images built by the real Docker daemon (tests/infra/docker_setup.sh starts it and
builds the base image): generated Dockerfiles (pip, conda+pip), the cache, user build contexts,
and the errors a user sees for a failing step or a base image that is nowhere to be had."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from engine.compute.docker import ContainerRun
from engine.entities import EnvironmentSpec
from engine.environments.build.docker import build_image, image_exists, image_tag, remove_image
from engine.environments.build.log import BuildEvent, BuildLog
from engine.errors import EnvBuildFailed
from engine.runs.launch import INJECT_DIR

BASE_IMAGE = "trainyard-test-base:latest"  # made by tests/infra/docker_setup.sh

PIP_SPEC = EnvironmentSpec(name="docker-pip", image=BASE_IMAGE, pip_requirements=("six",))
CONDA_SPEC = EnvironmentSpec(
    name="docker-conda", image=BASE_IMAGE,
    conda={"name": "project_environment", "channels": ["conda-forge"],
           "dependencies": ["python=3.11", "pip", "pyyaml", {"pip": ["six"]}]},
)


def remove_with_every_tag(client: Any, tag: str) -> None:
    """Remove the image `tag` names under all its tags (a locked spec's build tags the very same
    image again, and removing one tag would leave the layers for the next build to reuse)."""
    if image_exists(client, tag):
        client.images.remove(client.images.get(tag).id, force=True)


def run_in(client: Any, image: str, tmp_path: Path, code: str, **kw: Any) -> tuple[int, str]:
    root = tmp_path / "run"
    (root / "wd").mkdir(parents=True)
    (root / "wd" / "main.py").write_text(code)
    run = ContainerRun(image, ["python", "main.py"], run_root=root, env={}, inject_dir=INJECT_DIR,
                       name=f"test-{tmp_path.name}", docker=client, **kw)
    run.start()
    try:
        rc = run.wait(timeout=120)
    finally:
        run.remove()
    return rc, (root / "azureml-logs" / "70_driver_log.txt").read_text()


def test_pip_requirements_on_a_base_image_build_and_import_in_a_container(docker_client: Any, tmp_path: Path) -> None:
    remove_with_every_tag(docker_client, image_tag(PIP_SPEC))  # a real build, not the layer cache
    events: list[BuildEvent] = []
    log = BuildLog(tmp_path / "20_image_build_log.txt", on_event=events.append)
    tag = build_image(PIP_SPEC, log, docker=docker_client)
    assert tag == image_tag(PIP_SPEC) and tag.startswith("trainyard-env:") and len(tag.split(":")[1]) == 16
    text = log.path.read_text()  # type: ignore[union-attr]
    assert "==> Step 1/" in text and "RUN sh /opt/trainyard/build/install.sh" in text
    assert "six" in text
    assert any(e.kind == "progress" and e.fraction == 1.0 for e in events)
    assert events[-1].kind == "done"
    rc, out = run_in(docker_client, tag, tmp_path,
                     "import six, sys; print('six', six.__version__, sys.prefix)")
    assert rc == 0, out
    assert "six 1." in out and "/opt/trainyard/venv" in out


def test_second_build_of_the_same_spec_is_cached(docker_client: Any, tmp_path: Path) -> None:
    first = docker_client.images.get(build_image(PIP_SPEC, BuildLog(tmp_path / "first.txt"), docker=docker_client))
    log = BuildLog(tmp_path / "second.txt")
    tag = build_image(PIP_SPEC, log, docker=docker_client)
    text = (tmp_path / "second.txt").read_text()
    assert tag == image_tag(PIP_SPEC)
    assert "no build" in text and "(cached)" in text
    assert "Step " not in text and "docker build" not in text
    # The very image of the first build: nothing was built, not even from the layer cache. (How fast a
    # cached environment gets a container going is BENCHMARKS.md's "SDK, cached Docker image".)
    assert docker_client.images.get(tag).id == first.id


def test_conda_spec_with_pip_section_runs_a_job_in_a_container(docker_client: Any, tmp_path: Path) -> None:
    """The base image has no conda: the spec's packages come from PyPI into a venv, and the log
    says so (python/pip pins skipped)."""
    remove_with_every_tag(docker_client, image_tag(CONDA_SPEC))  # removes its layers too: a real build
    tag = build_image(CONDA_SPEC, BuildLog(tmp_path / "build.txt"), docker=docker_client)
    text = (tmp_path / "build.txt").read_text()
    assert "no micromamba/mamba/conda" in text
    assert "skipped conda package 'python=3.11'" in text
    assert "Successfully installed" in text and "six" in text and "pyyaml" in text.lower()
    root = tmp_path / "run"
    (root / "wd").mkdir(parents=True)
    (root / "wd" / "train.py").write_text(
        "import yaml, six\nfrom azureml.core import Run\nrun = Run.get_context()\n"
        "for i in range(3):\n    run.log('loss', 1.0 / (i + 1))\n"
        "print(yaml.safe_dump({'six': six.__version__}))\n")
    run = ContainerRun(tag, ["python", "train.py"], run_root=root, env={"TRAINYARD_RUN_ID": "conda-job"},
                       inject_dir=INJECT_DIR, name="test-conda-job", docker=docker_client)
    run.start()
    try:
        assert run.wait(timeout=60) == 0, (root / "azureml-logs" / "70_driver_log.txt").read_text()
    finally:
        run.remove()
    assert "six: 1." in (root / "azureml-logs" / "70_driver_log.txt").read_text()
    assert list((root / "tracking").glob("*.scalars"))


def test_image_with_nothing_on_top_is_tagged_not_built(docker_client: Any, tmp_path: Path) -> None:
    spec = EnvironmentSpec(name="inline-image", image=BASE_IMAGE)
    remove_image(docker_client, image_tag(spec))
    tag = build_image(spec, BuildLog(tmp_path / "log.txt"), docker=docker_client)
    assert docker_client.images.get(tag).id == docker_client.images.get(BASE_IMAGE).id
    assert "Step " not in (tmp_path / "log.txt").read_text()


def test_user_build_context_builds_and_its_content_is_part_of_the_tag(docker_client: Any, tmp_path: Path) -> None:
    ctx = tmp_path / "docker-context"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY hello.txt /opt/hello.txt\n")
    (ctx / "hello.txt").write_text("hello from the context\n")
    spec = EnvironmentSpec(name="ctx", build_context=str(ctx))
    tag = build_image(spec, BuildLog(tmp_path / "log.txt"), docker=docker_client)
    rc, out = run_in(docker_client, tag, tmp_path, "print(open('/opt/hello.txt').read())")
    assert rc == 0 and "hello from the context" in out
    (ctx / "hello.txt").write_text("changed\n")
    assert image_tag(spec) != tag  # an edited context is a new build


def test_failing_dockerfile_step_is_an_error_that_shows_the_step(docker_client: Any, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN echo step-two-ok\nRUN echo about-to-fail && exit 7\nRUN echo never\n")
    spec = EnvironmentSpec(name="broken", build_context=str(ctx))
    before = len(docker_client.containers.list(all=True))
    with pytest.raises(EnvBuildFailed) as err:
        build_image(spec, BuildLog(tmp_path / "log.txt"), docker=docker_client)
    msg = str(err.value)
    assert re.search(r"failed at Step 3/\d : RUN echo about-to-fail && exit 7", msg)
    assert "returned a non-zero code: 7" in msg
    assert "about-to-fail" in msg  # the tail of the build log
    log = (tmp_path / "log.txt").read_text()
    assert re.search(r"==> Step 3/\d : RUN echo about-to-fail && exit 7", log) and "about-to-fail" in log
    assert "never" not in log.replace("RUN echo never", "")
    assert not image_exists(docker_client, image_tag(spec))  # a failed build is not cached
    assert len(docker_client.containers.list(all=True)) == before  # forcerm: nothing left behind


@pytest.mark.parametrize("how", ["generated", "context"])
def test_missing_base_image_with_no_registry_fails_quickly_and_clearly(
    docker_client: Any, tmp_path: Path, how: str
) -> None:
    missing = "trainyard-no-such-image:does-not-exist"
    if how == "generated":
        spec = EnvironmentSpec(name="missing", image=missing, pip_requirements=("six",))
    else:
        (tmp_path / "Dockerfile").write_text(f"FROM {missing} AS base\nFROM base\nRUN true\n")
        spec = EnvironmentSpec(name="missing", build_context=str(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(EnvBuildFailed) as err:
        build_image(spec, BuildLog(None), docker=docker_client)
    # No pull is tried (a pull with no registry waits minutes for the network): far less, even on a loaded
    # 2-core machine, than that wait.
    assert time.monotonic() - t0 < 40
    msg = str(err.value)
    assert f"image {missing} is not on this machine" in msg
    assert "docker load / docker import" in msg
