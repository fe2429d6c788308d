"""Curated environments: the ones Trainyard ships (resources/environments/), and the Azure ML
curated names that existing scripts and job files use, mapped to them.

Names starting with a reserved prefix (`AzureML-`, `trainyard-`) belong to curated
environments: users cannot register environments under them (as in Azure ML, where the
`AzureML` prefix is reserved).
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import replace
from pathlib import Path

from engine.entities import EnvironmentSpec
from engine.errors import NotFound
from engine.specs.environment import load_environment_yaml

CURATED_DIR = Path(__file__).resolve().parents[2] / "resources" / "environments"
CURATED_VERSION = 1

PYTHON = "trainyard-python"
PYTORCH = "trainyard-pytorch-cpu"
SKLEARN = "trainyard-sklearn"
LIGHTGBM = "trainyard-lightgbm"
TENSORFLOW = "trainyard-tensorflow-cpu"

# Azure ML curated environment names -> the Trainyard curated environment that stands in for
# them. The first ones are those the seed tutorials use; the rest are common public ones
# (SDK v1 tutorials, CLI v2 examples, the `azureml` registry). docs/environments.md shows this.
ALIASES: dict[str, str] = {
    # Minimal Python
    "AzureML-Minimal": PYTHON,
    "AzureML-minimal-ubuntu18.04-py37-cpu-inference": PYTHON,
    "AzureML-minimal-ubuntu20.04-py38-cpu-inference": PYTHON,
    "minimal-ubuntu20.04-py38-cpu-inference": PYTHON,
    "minimal-ubuntu22.04-py311-cpu-inference": PYTHON,
    "minimal-py311-inference": PYTHON,
    # PyTorch (GPU names too: the same PyTorch build uses a GPU when the machine has one)
    "AzureML-PyTorch-1.6-CPU": PYTORCH,
    "AzureML-PyTorch-1.6-GPU": PYTORCH,
    "AzureML-PyTorch-1.5-CPU": PYTORCH,
    "AzureML-PyTorch-1.5-GPU": PYTORCH,
    "AzureML-PyTorch-1.4-CPU": PYTORCH,
    "AzureML-PyTorch-1.4-GPU": PYTORCH,
    "AzureML-PyTorch-1.3-CPU": PYTORCH,
    "AzureML-PyTorch-1.3-GPU": PYTORCH,
    "AzureML-Pytorch1.7-Cuda11-OpenMpi4.1.0-py36": PYTORCH,  # the CLI 2.0 seed (May 2021)
    "AzureML-pytorch-1.7-ubuntu18.04-py37-cuda11-gpu": PYTORCH,
    "AzureML-pytorch-1.8-ubuntu18.04-py37-cuda11-gpu": PYTORCH,
    "AzureML-pytorch-1.9-ubuntu18.04-py37-cuda11-gpu": PYTORCH,
    "AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu": PYTORCH,
    "AzureML-ACPT-pytorch-1.13-py38-cuda11.7-gpu": PYTORCH,
    "AzureML-ACPT-pytorch-2.0-py38-cuda11.7-gpu": PYTORCH,
    "acpt-pytorch-1.13-cuda11.7": PYTORCH,
    "acpt-pytorch-2.0-cuda11.7": PYTORCH,
    "acpt-pytorch-2.1-cuda12.1": PYTORCH,
    "acpt-pytorch-2.2-cuda12.1": PYTORCH,
    # scikit-learn
    "AzureML-Tutorial": SKLEARN,
    "AzureML-Scikit-learn-0.20.3": SKLEARN,
    "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu": SKLEARN,
    "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu": SKLEARN,
    "AzureML-sklearn-1.1-ubuntu20.04-py38-cpu": SKLEARN,
    "AzureML-sklearn-1.5": SKLEARN,
    "sklearn-1.0": SKLEARN,
    "sklearn-1.1": SKLEARN,
    "sklearn-1.5": SKLEARN,
    # LightGBM
    "AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu": LIGHTGBM,
    "AzureML-lightgbm-3.3": LIGHTGBM,
    "lightgbm-3.2": LIGHTGBM,
    "lightgbm-3.3": LIGHTGBM,
    # TensorFlow (GPU names too: the CPU build runs them, on a machine with or without a GPU)
    "AzureML-TensorFlow-2.3-CPU": TENSORFLOW,
    "AzureML-TensorFlow-2.3-GPU": TENSORFLOW,
    "AzureML-TensorFlow2.4-Cuda11-OpenMpi4.1.0-py36": TENSORFLOW,
    "AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu": TENSORFLOW,
    "AzureML-tensorflow-2.16-cuda12": TENSORFLOW,
    "tensorflow-2.16-cuda12": TENSORFLOW,
}

# Families of Azure ML names (other versions of the same frameworks) -> the same environments.
# Exact shapes, so that a typo ("...-CPUU") is an unknown name with suggestions, not a match.
_V = r"\d+\.\d+"
_OS = r"ubuntu\d+\.\d+"
ALIAS_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), target) for pattern, target in (
        (rf"^azureml-pytorch-{_V}-(cpu|gpu)$", PYTORCH),
        (rf"^azureml-pytorch{_V}-cuda\d+(\.\d+)?(-openmpi\d+(\.\d+)*)?(-py\d+)?$", PYTORCH),
        (rf"^azureml-pytorch-{_V}-{_OS}-py\d+-(cpu|cuda\d+(\.\d+)?-gpu)$", PYTORCH),
        (rf"^(azureml-)?acpt-pytorch-{_V}(-py\d+)?-cuda\d+(\.\d+)?(-gpu)?$", PYTORCH),
        (rf"^(azureml-)?sklearn-{_V}(-{_OS}-py\d+-cpu)?$", SKLEARN),
        (r"^azureml-scikit-learn-?\d+(\.\d+)*$", SKLEARN),
        (rf"^(azureml-)?lightgbm-{_V}(-{_OS}-py\d+-cpu)?$", LIGHTGBM),
        (rf"^(azureml-)?minimal-({_OS}-)?py\d+(-cpu)?-inference$", PYTHON),
        (rf"^azureml-tensorflow-?{_V}(-(cpu|gpu))?$", TENSORFLOW),
        (rf"^azureml-tensorflow{_V}-cuda\d+(\.\d+)?(-openmpi\d+(\.\d+)*)?(-py\d+)?$", TENSORFLOW),
        (rf"^(azureml-)?tensorflow-{_V}(-{_OS}-py\d+)?-(cpu|cuda\d+(\.\d+)?(-gpu)?)$", TENSORFLOW),
    )
)

# Azure ML curated names for frameworks Trainyard ships no environment for: say so plainly.
_UNPROVIDED = (
    (re.compile(r"xgboost", re.IGNORECASE), "XGBoost", "xgboost"),
    (re.compile(r"automl", re.IGNORECASE), "AutoML", "scikit-learn lightgbm xgboost"),
)


@functools.cache
def curated_specs() -> dict[str, EnvironmentSpec]:
    """The shipped curated environments by name (loaded once)."""
    specs: dict[str, EnvironmentSpec] = {}
    for env_file in sorted(CURATED_DIR.glob("*/env.yml")):
        spec = load_environment_yaml(env_file)
        specs[spec.name] = replace(spec, version=spec.version or CURATED_VERSION, curated=True)
    return specs


def curated_names() -> list[str]:
    return sorted(curated_specs())


def known_names() -> list[str]:
    """Every name that resolves to a curated environment (Trainyard's and the Azure ML aliases)."""
    return [*curated_names(), *sorted(ALIASES)]


def canonical_name(name: str) -> str | None:
    """The Trainyard curated environment `name` stands for, or None. Case-insensitive."""
    specs = curated_specs()
    if name in specs:
        return name
    if name in ALIASES:
        return ALIASES[name]
    folded = name.casefold()
    for known in (*specs, *ALIASES):
        if known.casefold() == folded:
            return known if known in specs else ALIASES[known]
    for pattern, target in ALIAS_PATTERNS:
        if pattern.match(name):
            return target
    return None


def get_curated(name: str, version: int | None = None) -> EnvironmentSpec:
    """The curated environment `name` (a Trainyard name or an Azure ML alias) stands for.

    Trainyard ships one version (1) of each. An Azure ML name with any version resolves (the
    version numbers of Azure ML's curated environments mean nothing here); `trainyard-X:N`
    with N other than 1 does not exist.
    """
    target = canonical_name(name)
    if target is None:
        raise unknown_curated(name)
    spec = curated_specs()[target]
    if version is not None and version != spec.version and name.casefold() == target.casefold():
        raise NotFound(f"curated environment {target!r} has no version {version}",
                       f"it has version {spec.version} only: use {target}:{spec.version} or {target}@latest")
    return spec


def unknown_curated(name: str, extra_names: list[str] | tuple[str, ...] = ()) -> NotFound:
    """NotFound for a name that is neither registered nor curated, suggesting close names."""
    for pattern, framework, packages in _UNPROVIDED:
        if pattern.search(name):
            return NotFound(
                f"{name!r} is an Azure ML curated {framework} environment, which Trainyard does not ship",
                f"create one: an env YAML with `pip_requirements:` listing {packages} (see docs/environments.md), "
                f"then `trainyard environment create -f env.yml`; curated ones: {', '.join(curated_names())}",
            )
    pool = [*extra_names, *known_names()]
    by_fold: dict[str, str] = {}
    for cand in pool:
        by_fold.setdefault(cand.casefold(), cand)
    close = [by_fold[c] for c in difflib.get_close_matches(name.casefold(), list(by_fold), n=3, cutoff=0.6)]
    hint = (f"did you mean {', '.join(close)}?" if close else
            f"curated environments: {', '.join(curated_names())}; list all with `trainyard environment list`")
    return NotFound(f"no environment named {name!r} (neither registered in this workspace nor curated)", hint)


def alias_table() -> list[tuple[str, str]]:
    """(Azure ML name, Trainyard curated environment) for every explicitly mapped name."""
    return sorted(ALIASES.items(), key=lambda kv: (kv[1], kv[0].casefold()))
