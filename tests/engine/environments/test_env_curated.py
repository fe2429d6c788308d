"""Curated environments: what ships, which Azure ML names resolve to them (in every reference
form a job file or script uses), and what happens with names that do not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.environments import curated
from engine.environments.resolve import resolve_environment
from engine.errors import InvalidSpec, NotFound
from engine.names import check_registrable_name, is_reserved, parse_reference

ROOT = Path(__file__).resolve().parents[3]
SEEDS = ROOT.parent / "shared" / "seeds"


def test_the_four_curated_environments_ship_as_pinned_pip_environments() -> None:
    specs = curated.curated_specs()
    assert sorted(specs) == ["trainyard-lightgbm", "trainyard-python", "trainyard-pytorch-cpu", "trainyard-sklearn",
                             "trainyard-tensorflow-cpu"]
    for spec in specs.values():
        assert spec.curated and spec.version == 1 and spec.kind == "venv" and spec.image is None
        assert spec.description
        for line in spec.pip_requirements or ():
            assert "==" in line, f"{spec.name}: {line} is not pinned"
    assert specs["trainyard-python"].pip_requirements == ()  # a venv with no packages
    assert specs["trainyard-pytorch-cpu"].pip_requirements == ("torch==2.14.1", "torchvision==0.29.1")
    assert "scikit-learn==1.9.1" in (specs["trainyard-sklearn"].pip_requirements or ())
    assert "lightgbm==4.7.0" in (specs["trainyard-lightgbm"].pip_requirements or ())
    # What Azure ML's curated environments of the same names hold for the examples' imports
    # (the public LightGBM iris example imports matplotlib.pyplot).
    for name in ("trainyard-lightgbm", "trainyard-sklearn"):
        assert "matplotlib==3.11.2" in (specs[name].pip_requirements or ()), name


@pytest.mark.parametrize(("ref", "expected"), [
    # the seeds
    ("AzureML-PyTorch-1.6-CPU", "trainyard-pytorch-cpu"),
    ("AzureML-PyTorch-1.6-GPU", "trainyard-pytorch-cpu"),
    ("AzureML-Minimal", "trainyard-python"),
    # every reference form
    ("trainyard-sklearn", "trainyard-sklearn"),
    ("trainyard-sklearn:1", "trainyard-sklearn"),
    ("trainyard-sklearn@latest", "trainyard-sklearn"),
    ("azureml:AzureML-sklearn-1.5@latest", "trainyard-sklearn"),
    ("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33", "trainyard-sklearn"),
    ("azureml://registries/azureml/environments/sklearn-1.5/labels/latest", "trainyard-sklearn"),
    ("azureml://registries/azureml/environments/lightgbm-3.3/versions/4", "trainyard-lightgbm"),
    # public Azure ML names
    ("AzureML-pytorch-1.7-ubuntu18.04-py37-cuda11-gpu", "trainyard-pytorch-cpu"),
    ("AzureML-sklearn-0.24-ubuntu18.04-py37-cpu", "trainyard-sklearn"),
    ("AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu", "trainyard-lightgbm"),
    ("AzureML-Tutorial", "trainyard-sklearn"),
    ("sklearn-1.5", "trainyard-sklearn"),
    ("lightgbm-3.3", "trainyard-lightgbm"),
    ("acpt-pytorch-2.2-cuda12.1", "trainyard-pytorch-cpu"),
    # other versions of the same families, and any case
    ("azureml:acpt-pytorch-2.3-cuda12.4@latest", "trainyard-pytorch-cpu"),
    ("AzureML-pytorch-1.13-ubuntu20.04-py38-cuda11.7-gpu", "trainyard-pytorch-cpu"),
    ("azureml-minimal", "trainyard-python"),
    # the May 2021 CLI examples of the seed "train models with CLI 2.0"
    ("azureml:AzureML-Pytorch1.7-Cuda11-OpenMpi4.1.0-py36:1", "trainyard-pytorch-cpu"),
    ("azureml:AzureML-TensorFlow2.4-Cuda11-OpenMpi4.1.0-py36:1", "trainyard-tensorflow-cpu"),
])
def test_azure_ml_names_and_reference_forms_resolve(ref: str, expected: str) -> None:
    spec = resolve_environment(None, ref)
    assert spec.name == expected and spec.curated and spec.version == 1


def test_every_azure_ml_name_in_the_seeds_resolves_or_says_why_not() -> None:
    # The names the seed documents use (../shared/seeds); read them again when the seeds are there.
    names = {"AzureML-Minimal", "AzureML-PyTorch-1.6-CPU", "AzureML-PyTorch-1.6-GPU",
             "AzureML-TensorFlow2.4-Cuda11-OpenMpi4.1.0-py36"}
    if SEEDS.is_dir():
        text = "\n".join(p.read_text() for p in sorted(SEEDS.glob("*.txt")))
        names |= set(re.findall(r"['\":](AzureML-[A-Za-z0-9.-]+)", text)) - {"AzureML-Containers"}
    for name in names:
        try:
            assert resolve_environment(None, name).curated
        except NotFound as exc:  # only frameworks Trainyard does not ship
            assert "TensorFlow" in exc.message and "does not ship" in exc.message, name


def test_unknown_curated_name_suggests_close_names() -> None:
    with pytest.raises(NotFound) as info:
        resolve_environment(None, "AzureML-PyTroch-1.6-CPU")
    assert "no environment named 'AzureML-PyTroch-1.6-CPU'" in info.value.message
    assert info.value.hint is not None and info.value.hint.startswith("did you mean AzureML-PyTorch-1.6-CPU")
    with pytest.raises(NotFound) as info:
        resolve_environment(None, "trainyard-sklaern")
    assert "trainyard-sklearn" in (info.value.hint or "")
    with pytest.raises(NotFound) as info:
        resolve_environment(None, "zzzz")
    assert "trainyard-python" in (info.value.hint or "")  # no close name: lists the curated ones


def test_the_tensorflow_names_of_the_seed_and_the_examples_resolve() -> None:
    for ref in ("azureml:AzureML-TensorFlow2.4-Cuda11-OpenMpi4.1.0-py36:1", "azureml:AzureML-tensorflow-2.16-cuda12@latest",
                "AzureML-TensorFlow-2.3-GPU", "AzureML-tensorflow-2.7-ubuntu20.04-py38-cuda11-gpu"):
        spec = resolve_environment(None, ref)
        assert spec.name == "trainyard-tensorflow-cpu" and "tensorflow-cpu==2.21.0" in (spec.pip_requirements or ()), ref


def test_an_xgboost_name_says_trainyard_does_not_ship_it() -> None:
    with pytest.raises(NotFound) as info:
        resolve_environment(None, "azureml:AzureML-xgboost-1.6:1")
    assert "XGBoost" in info.value.message and "pip_requirements" in (info.value.hint or "")


def test_curated_trainyard_names_have_only_version_1() -> None:
    with pytest.raises(NotFound) as info:
        resolve_environment(None, "trainyard-python:2")
    assert "version 1 only" in (info.value.hint or "")


@pytest.mark.parametrize(("ref", "needle"), [
    ("azureml:x@best", "unknown label 'best'"),
    ("x:one", "not a number"),
    ("azureml://registries/azureml/environments/x/labels/stable", "unknown label 'stable'"),
    ("azureml://registries/azureml/models/x/versions/1", "not one Trainyard understands"),
    ("", "empty"),
])
def test_malformed_references_are_invalid(ref: str, needle: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        parse_reference(ref)
    assert needle in info.value.message


def test_reference_parsing() -> None:
    assert (parse_reference("azureml:my-env:3").name, parse_reference("azureml:my-env:3").version) == ("my-env", 3)
    assert parse_reference("my.env@latest").version is None
    uri = parse_reference("azureml://subscriptions/s/resourceGroups/g/workspaces/w/environments/e/versions/2")
    assert (uri.name, uri.version, uri.registry) == ("e", 2, False)
    assert parse_reference("azureml://registries/azureml/environments/e/labels/latest").registry


def test_reserved_prefixes() -> None:
    for name in ("AzureML-Anything", "azureml-lower", "trainyard-mine", "TRAINYARD-x"):
        assert is_reserved(name)
        with pytest.raises(InvalidSpec) as info:
            check_registrable_name(name)
        assert "clone" in (info.value.hint or "")
    for name in ("my-azureml-env", "sklearn-1.5", "trainyard", "azureml"):
        assert not is_reserved(name)
        check_registrable_name(name)


def test_the_docs_table_lists_every_name() -> None:
    doc = (ROOT / "docs" / "environments.md").read_text()
    for alias, target in curated.alias_table():
        assert f"| `{alias}` | `{target}` |" in doc, alias
    for name in curated.curated_names():
        assert f"| `{name}` |" in doc, name
