"""HyperDrive (`azureml.train.hyperdrive`): a HyperDriveConfig submitted with Experiment.submit runs as
a Trainyard sweep, the sampled values appended to the script's arguments as `--name value`; the
returned run finds the best trial and ranks them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sdk_support import SCRIPTS, trainyard

from engine.errors import InvalidSpec
from engine.sdk import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    ScriptRunConfig,
    TruncationSelectionPolicy,
    choice,
    loguniform,
    normal,
    quniform,
    uniform,
)
from engine.sdk.submission import spec_from_config


def test_a_hyperdrive_control_script_runs_real_trials_and_finds_the_best(
    tmp_path: Path, ws_dir: Path
) -> None:
    (tmp_path / "hd-project").mkdir()
    shutil.copy(SCRIPTS / "hd_train.py", tmp_path / "hd-project")
    shutil.copy(SCRIPTS / "control_hyperdrive.py", tmp_path)
    res = trainyard("python", "control_hyperdrive.py", cwd=tmp_path, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = {
        line.split(" ", 1)[0]: line.split(" ", 1)[1]
        for line in res.stdout.splitlines()
        if line.startswith(("BEST ", "RANKED ", "CHILDREN ", "STATUS "))
    }
    assert lines["STATUS"] == "Completed" and lines["CHILDREN"] == "4"
    assert "LISTED ['HyperDriveRun'] 5 ['hyperdrive-grid']" in res.stdout
    assert "best trial: " in res.stdout  # the sweep's driver log, streamed by wait_for_completion

    ranked = json.loads(lines["RANKED"])
    params = [json.loads(r["hyperparameters"]) for r in ranked]
    assert params == [
        {"--learning_rate": 0.1, "--epochs": 3},
        {"--learning_rate": 0.1, "--epochs": 1},
        {"--learning_rate": 0.01, "--epochs": 3},
        {"--learning_rate": 0.01, "--epochs": 1},
    ]
    assert [r["best_primary_metric"] for r in ranked] == pytest.approx([0.966667, 0.9, 0.876667, 0.81])
    assert all(r["status"] == "Completed" for r in ranked)

    best = json.loads(lines["BEST"])
    assert best["id"] == ranked[0]["run_id"] and best["status"] == "Completed"
    assert best["metrics"]["accuracy"] == pytest.approx([0.9, 0.95, 0.966667])
    # The script got the fixed arguments first, then the sampled ones, as separate arguments.
    shown = json.loads(trainyard("job", "show", "-n", best["id"], "-o", "json").stdout)
    log = Path(shown["run_dir"], "azureml-logs", "70_driver_log.txt").read_text()
    assert "tag=grid run lr=0.1 epochs=3" in log


def _src(tmp_path: Path, **kwargs: object) -> ScriptRunConfig:
    (tmp_path / "train.py").write_text("print('hi')\n")
    return ScriptRunConfig(
        source_directory=str(tmp_path),
        script="train.py",
        arguments=["--data", "my data", "--url", "$AZ_BATCHAI_PYTORCH_INIT_METHOD"],
        **kwargs,
    )


def _sweep(config: HyperDriveConfig) -> object:
    return config.to_sweep(spec_from_config("exp", config.run_config, {}))


def test_the_sweep_a_hyperdrive_config_becomes(tmp_path: Path) -> None:
    config = HyperDriveConfig(
        run_config=_src(tmp_path, max_run_duration_seconds=60),
        hyperparameter_sampling=RandomParameterSampling(
            {
                "--lr": loguniform(-6, -1),
                "batch_size": choice(16, 32),
                "--momentum": uniform(0.8, 0.99),
                "--width": quniform(16, 128, 16),
                "--noise": normal(0, 1),
            },
            properties={"rng_seed": 7},
        ),
        policy=TruncationSelectionPolicy(truncation_percentage=20, delay_evaluation=2),
        primary_metric_name="val_loss",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
        max_total_runs=8,
        max_duration_minutes=30,
    )
    sweep = _sweep(config)
    assert sweep.trial.command == (  # type: ignore[attr-defined]
        "python train.py --data 'my data' --url \"$AZ_BATCHAI_PYTORCH_INIT_METHOD\" "
        "--lr ${{search_space.lr}} --batch_size ${{search_space.batch_size}} "
        "--momentum ${{search_space.momentum}} --width ${{search_space.width}} --noise ${{search_space.noise}}"
    )
    assert {n: p.kind for n, p in sweep.search_space.items()} == {  # type: ignore[attr-defined]
        "lr": "loguniform",
        "batch_size": "choice",
        "momentum": "uniform",
        "width": "quniform",
        "noise": "normal",
    }
    assert (sweep.goal, sweep.sampling_algorithm, sweep.seed) == ("minimize", "random", 7)  # type: ignore[attr-defined]
    assert (sweep.max_total_trials, sweep.max_concurrent_trials) == (8, 8)  # type: ignore[attr-defined]
    assert (sweep.timeout_seconds, sweep.trial_timeout_seconds) == (1800.0, 60)  # type: ignore[attr-defined]
    policy = sweep.early_termination  # type: ignore[attr-defined]
    assert (policy.type, policy.truncation_percentage, policy.delay_evaluation) == (
        "truncation_selection",
        20,
        2,
    )
    assert (
        _sweep(
            HyperDriveConfig(
                run_config=_src(tmp_path),
                primary_metric_name="m",
                primary_metric_goal="maximize",
                hyperparameter_sampling=GridParameterSampling({"--a": choice(1, 2)}),
                policy=MedianStoppingPolicy(),
                max_total_runs=2,
            )
        ).early_termination.type
        == "median_stopping"
    )  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        (
            {"hyperparameter_sampling": GridParameterSampling({"--lr": uniform(0, 1)})},
            "hyperparameter_sampling",
            "uniform",
        ),
        (
            {"hyperparameter_sampling": BayesianParameterSampling({"--lr": normal(0, 1)})},
            "hyperparameter_sampling",
            "normal",
        ),
        (
            {"hyperparameter_sampling": RandomParameterSampling({"--lr": 0.1})},
            "parameter_space",
            "not a distribution",
        ),
        (
            {"hyperparameter_sampling": RandomParameterSampling({"--lr": choice(1), "lr": choice(2)})},
            "parameter_space",
            "twice",
        ),
        ({"policy": BanditPolicy(slack_factor=0.1, slack_amount=0.2)}, "policy", "exactly one of"),
        ({"primary_metric_goal": "best"}, "primary_metric_goal", "MAXIMIZE"),
        ({"max_total_runs": 0}, "max_total_runs", ">= 1"),
        ({"estimator": object()}, "estimator", "not provided"),
    ],
)
def test_bad_hyperdrive_configs_name_the_argument(
    tmp_path: Path, kwargs: dict[str, object], field: str, needle: str
) -> None:
    args: dict[str, object] = {
        "run_config": _src(tmp_path),
        "primary_metric_name": "m",
        "primary_metric_goal": PrimaryMetricGoal.MAXIMIZE,
        "max_total_runs": 2,
        "hyperparameter_sampling": RandomParameterSampling({"--lr": uniform(0, 1)}),
        **kwargs,
    }
    with pytest.raises(InvalidSpec) as info:
        _sweep(HyperDriveConfig(**args))  # type: ignore[arg-type]
    assert info.value.field == field and needle in str(info.value)


def test_hyperdrive_trials_can_be_distributed(tmp_path: Path, ws_dir: Path, no_gpus: None) -> None:
    """A run_config with a distributed_job_config sweeps as it runs alone: every trial is a
    2-process PyTorch job (real gloo DDP), and the trial that trained longer is the best."""
    (tmp_path / "ddp-project").mkdir()
    shutil.copy(SCRIPTS / "ddp_train.py", tmp_path / "ddp-project")
    shutil.copy(SCRIPTS / "control_hyperdrive_ddp.py", tmp_path)
    res = trainyard("python", "control_hyperdrive_ddp.py", cwd=tmp_path, timeout=400)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = {
        line.split(" ", 1)[0]: line.split(" ", 1)[1]
        for line in res.stdout.splitlines()
        if line.startswith(("BEST ", "RANKED ", "STATUS "))
    }
    assert lines["STATUS"] == "Completed", res.stdout
    ranked = json.loads(lines["RANKED"])
    assert [json.loads(r["hyperparameters"]) for r in ranked] == [{"--num-epochs": 25}, {"--num-epochs": 1}]
    assert json.loads(lines["BEST"])["id"] == ranked[0]["run_id"]
    for trial in ranked:
        shown = json.loads(trainyard("job", "show", "-n", trial["run_id"], "-o", "json").stdout)
        assert shown["status"] == "Completed"
        assert shown["distribution"]["process_count_per_instance"] * shown["distribution"].get(
            "instance_count", 1
        ) == 2, shown["distribution"]
        logs = "".join(
            p.read_text() for p in sorted(Path(shown["run_dir"], "azureml-logs").glob("70_driver_log*"))
        )
        assert "rank 0 of 2 joining tcp://" in logs and "rank 1 of 2 joining tcp://" in logs, logs
