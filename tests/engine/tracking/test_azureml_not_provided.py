"""What the `azureml` stand-in does not provide is said plainly: an unknown `azureml.*` module or a
known Azure ML class Trainyard lacks raises an ImportError naming it and what to use instead (never
a bare ModuleNotFoundError or AttributeError); the control-script names it does provide (compute,
HyperDrive, datasets, exceptions) come from engine.sdk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"
ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json
out = []
def attempt(code):
    try:
        exec(code, {})
        out.append([code, "ok", ""])
    except Exception as exc:
        out.append([code, type(exc).__name__, str(exc), [c.__name__ for c in type(exc).__mro__]])
for code in CODES:
    attempt(code)
print(json.dumps(out))
"""


def probe(tmp_path: Path, codes: list[str], *, with_engine: bool) -> list[list[object]]:
    """Run `codes` in a fresh interpreter with the stand-in on the path (and the engine when asked)."""
    script = tmp_path / "probe.py"
    script.write_text(f"CODES = {codes!r}\n" + textwrap.dedent(PROBE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(INJECT), *([str(ROOT)] if with_engine else [])])
    argv = [sys.executable, str(script)] if with_engine else [sys.executable, "-S", str(script)]
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_unknown_modules_and_classes_say_what_to_use_instead(tmp_path: Path) -> None:
    for with_engine in (False, True):  # a training script (nothing installed) and a control script
        out = probe(
            tmp_path,
            [
                "import azureml.widgets",
                "from azureml.widgets import RunDetails",
                "from azureml.train.estimator import Estimator",
                "from azureml.train.dnn import PyTorch",
                "from azureml.pipeline.steps import ParallelRunStep",
                "import azureml.automl.core",
                "from azureml.core.webservice import AciWebservice",
                "import azureml.nothing_like_it",
                "from azureml.core import Webservice",
                "from azureml.core.compute import AksCompute",
            ],
            with_engine=with_engine,
        )
        for code, kind, message, mro in out:  # type: ignore[misc]
            assert kind == "NotProvidedError" and "ImportError" in mro, (code, kind, message)
            assert "ModuleNotFoundError" not in mro
            assert "is not provided by Trainyard" in message, message
        messages = [row[2] for row in out]
        assert messages[0] == (
            "azureml.widgets is not provided by Trainyard (the Jupyter run widgets (RunDetails)): "
            "follow a run with run.wait_for_completion(show_output=True), or open it in "
            "`trainyard studio`"
        )
        assert "use ScriptRunConfig" in messages[2] and "PyTorchConfiguration" in messages[3]
        assert messages[4].startswith(
            "azureml.pipeline.steps.ParallelRunStep is not provided by Trainyard (pipeline steps other than "
            "PythonScriptStep and CommandStep)"
        )
        assert "HyperDriveConfig" in messages[5]
        assert messages[7] == (
            "azureml.nothing_like_it is not provided by Trainyard (a part of the Azure ML SDK): "
            "see docs/azure-compatibility.md for what Trainyard provides"
        )
        assert messages[8].startswith(
            "azureml.core.Webservice is not provided by Trainyard (model deployment"
        )
        assert messages[9].startswith(
            "azureml.core.compute.AksCompute is not provided by Trainyard (AKS compute)"
        )


def test_an_unknown_attribute_is_an_attribute_error_naming_it(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        [
            "import azureml.core; azureml.core.NoSuchThing",
            "import azureml.core; print(hasattr(azureml.core, 'NoSuchThing'))",
        ],
        with_engine=True,
    )
    assert out[0][1] == "AttributeError"
    assert "'NoSuchThing'" in out[0][2] and "docs/azure-compatibility.md" in out[0][2]
    assert out[1][1] == "ok"


def test_the_new_control_script_names_come_from_the_sdk(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        [
            (
                "from azureml.core.compute import ComputeTarget, AmlCompute; import engine.sdk as s; "
                "assert (ComputeTarget, AmlCompute) == (s.ComputeTarget, s.AmlCompute)"
            ),
            (
                "from azureml.core.compute_target import ComputeTargetException; import engine.sdk as s; "
                "assert ComputeTargetException is s.ComputeTargetException"
            ),
            (
                "from azureml.exceptions import ComputeTargetException, UserErrorException; import engine.errors as e; "
                "assert issubclass(ComputeTargetException, e.NotFound) and UserErrorException is e.TrainyardError"
            ),
            (
                "from azureml.train.hyperdrive import HyperDriveConfig, RandomParameterSampling, BanditPolicy, choice, "
                "uniform, loguniform, normal, quniform, PrimaryMetricGoal, GridParameterSampling, "
                "BayesianParameterSampling, MedianStoppingPolicy, TruncationSelectionPolicy"
            ),
            (
                "from azureml.train.hyperdrive.parameter_expressions import choice; from azureml.train.hyperdrive import "
                "choice as c2; assert choice is c2"
            ),
            "from azureml.train.hyperdrive.runconfig import HyperDriveConfig",
            "from azureml.core.runconfig import TensorflowConfiguration, DockerConfiguration, MpiConfiguration",
            (
                "from azureml.core import Dataset, Datastore; from azureml.core.dataset import Dataset as D2; "
                "assert Dataset is D2"
            ),
            "from azureml.data import FileDataset, TabularDataset",
            "from azureml.data.dataset_consumption_config import DatasetConsumptionConfig",
            "from azureml.core.authentication import InteractiveLoginAuthentication, ServicePrincipalAuthentication",
        ],
        with_engine=True,
    )
    assert [row[1] for row in out] == ["ok"] * len(out), out


def test_without_the_engine_the_new_names_say_how_to_run_control_scripts(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        [
            "from azureml.core.compute_target import ComputeTargetException",
            "from azureml.train.hyperdrive import HyperDriveConfig",
        ],
        with_engine=False,
    )
    for _code, kind, message, _mro in out:  # type: ignore[misc]
        assert kind == "ImportError" and "run control scripts with `trainyard python script.py`" in message


def test_a_probe_for_a_missing_module_finds_nothing(tmp_path: Path) -> None:
    """Libraries probe for optional integrations with importlib.util.find_spec: they must see a
    module Trainyard lacks as absent, not be handed one that fails on import."""
    out = probe(
        tmp_path,
        [
            "import importlib.util; assert importlib.util.find_spec('azureml.widgets') is None",
            "import importlib.util; assert importlib.util.find_spec('azureml.core.run') is not None",
        ],
        with_engine=False,
    )
    assert [row[1] for row in out] == ["ok", "ok"], out


def test_every_name_the_stand_in_forwards_exists_in_the_sdk(tmp_path: Path) -> None:
    modules = sorted(
        ".".join(p.relative_to(INJECT).with_suffix("").parts).removesuffix(".__init__")
        for p in (INJECT / "azureml").rglob("*.py")
        if p.name != "_missing.py"
    )
    code = (
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    for attr in getattr(module, '__all__', []):\n"
        "        getattr(module, attr)\n"
    )
    out = probe(tmp_path, [code], with_engine=True)
    assert out[0][1] == "ok", out
    assert "azureml.train.hyperdrive" in modules and "azureml.core.compute_target" in modules
