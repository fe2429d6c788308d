"""One workspace with one real run environment (built by Trainyard with uv) that the real-MLflow
tests share: MLflow, scikit-learn, PyTorch (the CPU wheel on this machine's disk), Lightning,
transformers, XGBoost, LightGBM and TensorBoard. Built once per test module."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from engine.api import Engine
from engine.entities import EnvironmentSpec, Run
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.workspace import ENV_ENV_CACHE

REAL_ENV = EnvironmentSpec(
    name="mlflow-real",
    pip_requirements=(
        "accelerate",  # transformers' Trainer needs it with PyTorch
        "lightgbm",
        "lightning",
        "matplotlib",
        "mlflow",
        "pandas",
        "scikit-learn",
        "tensorboard",
        "torch==2.13.0+cpu",  # the CPU wheel on this machine's disk (the CUDA build is 5 GB)
        "transformers",
        "xgboost",
    ),
)
BUILD_AND_RUN_TIMEOUT = 900  # the first run builds the environment (~1-3 min here; more on a cold CI)


class MlflowWorkspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.engine = Engine.open(root / "ws")
        self.count = 0
        # Its own build cache, not the test's (tests/conftest.py gives each test one and removes
        # it after): built once, the environment is reused by every test of the module.
        self.env_cache = root / "envcache"

    def run(
        self,
        code: str,
        *,
        env: EnvironmentSpec = REAL_ENV,
        experiment: str = "mlflow-real",
        job_env: dict[str, str] | None = None,
    ) -> tuple[Run, str]:
        """Submit `code` as train.py, wait for it, and return the final run and its driver log."""
        self.count += 1
        folder = self.root / f"code{self.count}"
        folder.mkdir()
        (folder / "train.py").write_text(textwrap.dedent(code))
        saved = os.environ.get(ENV_ENV_CACHE)
        os.environ[ENV_ENV_CACHE] = str(self.env_cache)  # the supervisor started by submit inherits it
        try:
            run = self.engine.submit(
                JobSpec(
                    experiment_name=experiment,
                    code_dir=folder,
                    script="train.py",
                    environment_spec=env,
                    environment_variables=job_env or {},
                )
            )
            final = self.engine.wait(run.name, timeout=BUILD_AND_RUN_TIMEOUT)
        finally:
            if saved is None:
                os.environ.pop(ENV_ENV_CACHE, None)
            else:
                os.environ[ENV_ENV_CACHE] = saved
        files = RunFiles(Path(final.run_dir))
        log = files.driver_log.read_text() if files.driver_log.exists() else ""
        return final, log
