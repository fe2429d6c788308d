"""Fixtures of the integration tests.

``mlflow_ws``: one workspace whose runs share one real environment built by Trainyard (MLflow,
scikit-learn, PyTorch, Lightning, transformers, XGBoost, LightGBM, TensorBoard; ``realenv.py``).

``docker_client``: a real Docker daemon and the base image ``trainyard-test-base:latest``, made
ready once per session by tests/infra/docker_setup.sh (it installs and starts dockerd when needed,
and builds the base image with debootstrap when it is missing: ~80 s once per machine).

``slurm`` (tests/conftest.py): a real one-node Slurm cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER_SETUP = ROOT / "tests" / "infra" / "docker_setup.sh"
BASE_IMAGE = "trainyard-test-base:latest"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    res = subprocess.run(["bash", str(DOCKER_SETUP)], check=False, env={**os.environ, "IMAGE": BASE_IMAGE},
                         capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        pytest.fail(f"tests/infra/docker_setup.sh failed ({res.returncode}):\n{res.stderr[-4000:]}", pytrace=False)
    from engine.environments.build.docker import docker_client as connect

    client = connect()
    yield client
    client.close()


@pytest.fixture(scope="module")
def mlflow_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from realenv import MlflowWorkspace

    ws = MlflowWorkspace(tmp_path_factory.mktemp("mlflow-real"))
    try:
        yield ws
    finally:
        ws.engine.close()
        shutil.rmtree(ws.root, ignore_errors=True)  # gigabytes (the environment), unused from here
