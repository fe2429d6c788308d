"""Build state of environments as the studio shows it, and builds started outside any run."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.environments import status as S
from engine.environments.status import spec_documents
from engine.errors import EnvBuildFailed


@pytest.fixture
def engine(tmp_path: Path):
    eng = Engine.open(tmp_path / "ws")
    yield eng
    eng.close()


def test_bare_venv_goes_from_not_built_to_built(engine: Engine) -> None:
    spec = EnvironmentSpec(name="bare", pip_requirements=())
    assert engine.environment_build_status(spec).state == S.NOT_BUILT
    events = []
    built = engine.build_environment(spec, events.append)
    status = engine.environment_build_status(spec)
    assert status.state == S.BUILT and status.location == built.prefix and status.built_at
    assert any(e.kind == "done" for e in events)
    log = engine.environment_build_log(spec)
    assert "Creating virtual environment with uv" in log and "environment ready" in log
    # Rebuild removes the cached build first: it is built again, not found in the cache.
    again = engine.build_environment(spec, rebuild=True)
    assert not again.cached and engine.environment_build_status(spec).state == S.BUILT


def test_a_failed_build_is_remembered_until_one_succeeds(engine: Engine, tmp_path: Path) -> None:
    spec = EnvironmentSpec(name="broken", pip_requirements=(str(tmp_path / "no-such-package"),))
    with pytest.raises(EnvBuildFailed):
        engine.build_environment(spec)
    status = engine.environment_build_status(spec)
    assert status.state == S.FAILED and "no-such-package" in (status.error or "") + engine.environment_build_log(spec)


def test_user_managed_needs_no_build(engine: Engine) -> None:
    assert engine.environment_build_status(EnvironmentSpec(name="mine", user_managed=True)).state == S.USER_MANAGED


def test_spec_documents_show_what_defines_the_environment(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM python:3.11-slim\nRUN pip install numpy\n")
    docker = spec_documents(EnvironmentSpec(name="img", build_context=str(ctx)))
    assert [t for t, _ in docker] == ["Environment YAML", "Dockerfile (Dockerfile)"]
    assert "RUN pip install numpy" in docker[1][1]
    conda = spec_documents(EnvironmentSpec(name="c", conda={"channels": ["conda-forge"], "dependencies": ["numpy"]},
                                           conda_source="/x/conda.yml"))
    assert conda[0][1].splitlines()[-1] == "conda_file: conda.yml" and "- numpy" in conda[1][1]
    pip = spec_documents(EnvironmentSpec(name="p", pip_requirements=("six==1.17.0",)))
    assert pip[1] == ("Pip requirements (requirements.txt)", "six==1.17.0\n")
