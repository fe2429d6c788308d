"""Job files written in every spelling the public Azure ML examples use (today's command and sweep
jobs, and the 2021 preview schema of the seed "train models with CLI 2.0"), under
tests/engine/fixtures/azure_jobs/. Each one either loads, with a note for every key read as
another or accepted and not used, or is refused with an error that names the file, the line and
what to do. Nothing raises anything but a Trainyard error.

KEYS_OF_THE_EXAMPLES lists what the public job files use (read from the azureml-examples
repository, cli/jobs, May 2021 and today); a test checks that the fixtures cover each of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.errors import TrainyardError
from engine.jobs.pipeline import PipelineSpec
from engine.jobs.spec import JobSpec, SweepSpec
from engine.specs import yamlfile
from engine.specs.pipeline import load_any_job as load_job

FIXTURES = Path(__file__).parent / "fixtures" / "azure_jobs"

# file -> None (it loads) or (words in the message, words in the hint) of its refusal.
EXPECTED: dict[str, tuple[str, str] | None] = {
    "preview/hello.yml": None,
    "preview/fit-local-data.yml": None,
    "preview/fit-asset.yml": None,
    "preview/fit-datastore.yml": ("in an Azure ML datastore", "--set inputs.points.path=LOCAL_PATH"),
    "preview/fit-dockerfile.yml": None,
    "preview/distributed-pytorch.yml": None,
    "preview/distributed-mpi.yml": None,
    "preview/distributed-uneven.yml": (
        "does not divide evenly over 2 instance(s)",
        "process_count_per_instance",
    ),
    "preview/distributed-tensorflow.yml": None,
    "preview/sweep.yml": None,
    "preview/compute-bad-key.yml": ("unknown key 'compute.instance_size'", "target, instance_count"),
    "preview/nov-file-folder.yml": None,
    "preview/nov-dataset.yml": None,
    "preview/nov-cloud-folder.yml": ("in Azure Blob Storage", "--set inputs.remote.path=LOCAL_PATH"),
    "today/hello.yml": None,
    "today/fit-everything.yml": None,
    "today/http-inputs.yml": None,
    "today/registered-refs.yml": None,
    "today/models.yml": None,
    "today/cloud-wasbs.yml": ("in Azure Blob Storage", "trainyard data create --name points"),
    "today/cloud-abfss.yml": ("in Azure Data Lake Storage Gen2", "--set inputs.points.path=LOCAL_PATH"),
    "today/cloud-datastore.yml": ("in an Azure ML datastore", "--set inputs.points.path=LOCAL_PATH"),
    "today/cloud-subscription.yml": ("in an Azure ML datastore", "--set inputs.points.path=LOCAL_PATH"),
    "today/cloud-adl.yml": ("in Azure Data Lake Storage Gen1", "--set inputs.points.path=LOCAL_PATH"),
    "today/cloud-s3.yml": ("in Amazon S3", "--set inputs.points.path=LOCAL_PATH"),
    "today/cloud-gs.yml": ("in Google Cloud Storage", "--set inputs.points.path=LOCAL_PATH"),
    "today/env-build.yml": None,
    "today/env-build-dockerfile-path.yml": None,
    "today/env-file.yml": None,
    "today/distributed-pytorch.yml": None,
    "today/distributed-mpi.yml": None,
    "today/distributed-tensorflow.yml": None,
    "today/azure-hosting-keys.yml": None,
    "today/sweep.yml": None,
    "today/sweep-grid-bayesian.yml": None,
    "today/pipeline.yml": None,
    "today/automl.yml": ("job type 'automl' is not supported", "write a command job"),
    "today/spark.yml": ("job type 'spark' is not supported", "pyspark"),
    "today/typo-key.yml": ("unknown key 'enviroment'", "did you mean 'environment'?"),
}

# Every key path (lists and names of inputs/search-space entries left out as `*`) that the public
# example command and sweep jobs use, today and in the 2021 preview schema.
KEYS_OF_THE_EXAMPLES = " ".join(
    """
$schema type name display_name experiment_name description tags properties code code.local_path command
inputs inputs.* inputs.*.type inputs.*.path inputs.*.mode inputs.*.data inputs.*.data.path
inputs.*.data.local_path inputs.*.data.datastore inputs.*.file inputs.*.folder inputs.*.dataset
inputs.*.dataset.local_path inputs.*.default
outputs outputs.* outputs.*.type outputs.*.mode
environment environment.image environment.conda_file environment.build environment.build.path
environment.build.local_path environment.build.dockerfile_path environment.docker environment.docker.image
environment.docker.build environment.docker.build.dockerfile environment_variables
compute compute.target compute.instance_count resources resources.instance_count resources.instance_type
resources.shm_size resources.docker_args resources.max_instance_count distribution distribution.type
distribution.process_count distribution.process_count_per_instance distribution.worker_count
distribution.parameter_server_count limits limits.timeout limits.max_total_trials limits.max_concurrent_trials
limits.trial_timeout services services.* services.*.type services.*.log_dir identity identity.type
queue_settings queue_settings.job_tier notification_setting
trial trial.code trial.code.local_path trial.command trial.environment trial.environment.docker
trial.environment.docker.image trial.environment.conda_file trial.environment.image trial.environment_variables
trial.inputs trial.compute trial.compute.target trial.resources
sampling_algorithm sampling_algorithm.type algorithm search_space search_space.* search_space.*.type
search_space.*.values search_space.*.min_value search_space.*.max_value search_space.*.upper
objective objective.goal objective.primary_metric max_total_trials max_concurrent_trials timeout_minutes
early_termination early_termination.type early_termination.slack_factor early_termination.evaluation_interval
early_termination.delay_evaluation
""".splitlines()
).split()
# Where the examples name a mapping of the user's own names.
_NAMED = {"inputs", "outputs", "services", "search_space", "trial.inputs"}


def _key_paths(data: Any, at: str = "") -> set[str]:
    if not isinstance(data, dict):
        return set()
    found = set()
    for key, value in data.items():
        path = f"{at}.{key}" if at else str(key)
        shown = f"{at}.*" if at in _NAMED else path
        found.add(shown)
        found |= _key_paths(value, shown)
    return found


def fixture_files() -> list[str]:
    return sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*.yml"))


def test_every_fixture_has_an_expectation() -> None:
    assert fixture_files() == sorted(EXPECTED)


def test_the_fixtures_use_every_key_of_the_examples() -> None:
    used: set[str] = set()
    for rel in fixture_files():
        used |= _key_paths(yamlfile.load((FIXTURES / rel).read_text()))
    assert not sorted(set(KEYS_OF_THE_EXAMPLES) - used)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_each_file_loads_or_is_refused_with_file_line_and_fix(rel: str) -> None:
    path = FIXTURES / rel
    notes: list[str] = []
    expected = EXPECTED[rel]
    if expected is None:
        spec = load_job(path, on_note=notes.append)
        assert isinstance(spec, (JobSpec, SweepSpec, PipelineSpec))
        for note in notes:  # each note is one line that says where
            assert "\n" not in note and note.startswith(f"{path}:"), note
        return
    with pytest.raises(TrainyardError) as info:
        load_job(path, on_note=notes.append)
    err = info.value
    message, hint = expected
    text = str(err)
    assert str(path) in text and re.search(rf"{re.escape(str(path))}:\d+: ", text), text
    assert message in err.message, err.message
    assert hint in (err.hint or ""), err.hint


def test_the_preview_spelling_reads_as_today_s_with_one_note_per_rewrite() -> None:
    notes: list[str] = []
    spec = load_job(FIXTURES / "preview/fit-local-data.yml", on_note=notes.append)
    assert isinstance(spec, JobSpec)
    assert spec.code_dir == (FIXTURES / "src").resolve()
    assert spec.compute == "azureml:cpu-fixture"
    data = spec.data_inputs
    assert (data["points"].type, data["points"].path, data["points"].mode) == (
        "uri_file",
        str((FIXTURES / "data/points.csv").resolve()),
        "download",
    )
    assert (data["shapes"].type, data["shapes"].path, data["shapes"].mode) == (
        "uri_folder",
        str((FIXTURES / "data/shapes").resolve()),
        "ro_mount",
    )
    assert (data["remote_csv"].type, data["remote_csv"].path) == (
        "uri_file",
        "https://example.org/datasets/points.csv",
    )
    assert "${{inputs.points}}" in (spec.command or "") and "{inputs.points} " not in (spec.command or "")
    env = spec.environment_spec
    assert env is not None and env.image == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
    assert env.conda_source == str((FIXTURES / "conda.yml").resolve())
    joined = "\n".join(notes)
    for old, new in [
        ("code.local_path", "code"),
        ("inputs.points.data.local_path", "inputs.points.path"),
        ("mode: mount", "mode: ro_mount"),
        ("environment.docker.image", "environment.image"),
        ("conda_file: file:../conda.yml", "conda_file: ../conda.yml"),
        ("compute.target", "compute"),
        ("{inputs.points}, {inputs.shapes}, {inputs.remote_csv}", "${{inputs.points}}, "),
    ]:
        assert f"`{old}` (Azure ML preview schema) read as `{new}" in joined, (old, joined)
    # the note names the line the old key is on
    assert f"{FIXTURES / 'preview/fit-local-data.yml'}:27: `compute.target`" in joined


def test_preview_distribution_and_compute_instance_count() -> None:
    spec = load_job(FIXTURES / "preview/distributed-pytorch.yml")
    assert isinstance(spec, JobSpec) and spec.distribution is not None
    assert (
        spec.distribution.kind,
        spec.distribution.instance_count,
        spec.distribution.process_count_per_instance,
    ) == ("pytorch", 2, 2)


def test_tensorflow_distribution_in_both_spellings() -> None:
    for rel in ("preview/distributed-tensorflow.yml", "today/distributed-tensorflow.yml"):
        spec = load_job(FIXTURES / rel)
        assert isinstance(spec, JobSpec) and spec.distribution is not None, rel
        assert (spec.distribution.kind, spec.distribution.worker_count) == ("tensorflow", 2), rel


def test_preview_sweep_reads_as_today_s_sweep() -> None:
    notes: list[str] = []
    sweep = load_job(FIXTURES / "preview/sweep.yml", on_note=notes.append)
    assert isinstance(sweep, SweepSpec)
    assert (
        sweep.sampling_algorithm,
        sweep.max_total_trials,
        sweep.max_concurrent_trials,
        sweep.timeout_seconds,
    ) == ("random", 6, 2, 1800)
    assert sweep.trial.compute == "azureml:cpu-fixture"
    assert sweep.trial.data_inputs["points"].path == str((FIXTURES / "data/points.csv").resolve())
    assert "${{search_space.rate}}" in (sweep.trial.command or "")
    assert any("`type: sweep_job` (Azure ML preview schema) read as `type: sweep`" in n for n in notes)


def test_azure_hosting_keys_are_accepted_with_a_note_each() -> None:
    notes: list[str] = []
    spec = load_job(FIXTURES / "today/azure-hosting-keys.yml", on_note=notes.append)
    assert isinstance(spec, JobSpec)
    joined = "\n".join(notes)
    for words in (
        "`services:` accepted and not used: interactive services",
        "`identity:` accepted",
        "`queue_settings:` accepted",
        "`notification_setting:` accepted",
        "`resources.instance_type: Standard_NC6s_v3` is an Azure VM size",
        "extra `docker run` arguments are not passed",
        "`resources.max_instance_count` is not used",
    ):
        assert words in joined, (words, joined)


def test_set_reaches_every_spelling() -> None:
    """`--set` for any field, on either spelling: compute, compute.target, environment, inputs."""
    preview = FIXTURES / "preview/fit-local-data.yml"
    spec = load_job(
        preview,
        [
            "compute.target=local",
            "environment=azureml:AzureML-lightgbm-3.3@latest",
            "inputs.remote_csv.path=../data/points.csv",
        ],
    )
    assert isinstance(spec, JobSpec)
    assert spec.compute == "local"
    assert spec.environment == "azureml:AzureML-lightgbm-3.3@latest" and spec.environment_spec is None
    assert spec.data_inputs["remote_csv"].path == str((FIXTURES / "data/points.csv").resolve())
    today = FIXTURES / "today/cloud-wasbs.yml"
    spec = load_job(
        today, ["compute=docker", "inputs.points.path=../data/points.csv", "compute.target=local"]
    )
    assert isinstance(spec, JobSpec) and spec.compute == "local"
    sweep = load_job(FIXTURES / "preview/sweep.yml", ["compute.target=local", "max_total_trials=3"])
    assert isinstance(sweep, SweepSpec) and sweep.trial.compute == "local" and sweep.max_total_trials == 3
