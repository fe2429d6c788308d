"""The ``azureml`` stand-in: seed-style training scripts run with nothing installed, and the
control-script SDK names forward lazily to ``engine.sdk``."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.tracking.records import read_writer, scalar_columns, writers

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"
SDK_HINT = "is provided by Trainyard's SDK; run control scripts with `trainyard python script.py`"


def run_bare(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """A training script where only the inject folder is importable (no engine, no site-packages)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(
        PYTHONPATH=str(INJECT),
        TRAINYARD_RUN_ID="seed-run",
        TRAINYARD_EXPERIMENT="seed-exp",
        TRAINYARD_TRACKING_DIR=str(tmp_path / "tracking"),
    )
    # -S: the venv's site-packages (where the engine is installed, editable) are not on the path.
    return subprocess.run(
        [sys.executable, "-S", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_seed_style_script_logs_with_nothing_installed(tmp_path: Path) -> None:
    proc = run_bare(
        tmp_path,
        """
        from azureml.core import Run
        from azureml.core.run import Run as Run2
        assert Run is Run2
        run = Run.get_context()
        for epoch in range(5):
            loss = 1.0 / (epoch + 1)
            run.log('loss', loss)
        run.log_row('Y over X', x=1, y=0.4)
        print(run.id, run.experiment.name)
        try:
            import engine
        except ImportError:
            print("no engine")
        ns = {}
        exec("from azureml.core import *", ns)  # a training script may do this: no SDK needed
        print(sorted(n for n in ns if not n.startswith("__")))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["seed-run seed-exp", "no engine", "['Run']"]
    (writer,) = writers(tmp_path / "tracking")
    records, errors = read_writer(tmp_path / "tracking", writer)
    assert errors == []
    assert scalar_columns(records)["loss"][1] == [1.0 / (e + 1) for e in range(5)]


def test_sdk_names_raise_a_clear_import_error_without_the_engine(tmp_path: Path) -> None:
    proc = run_bare(
        tmp_path,
        """
        import json
        out = []
        def attempt(code):
            try:
                exec(code, {})
                out.append([code, "ok", ""])
            except Exception as exc:
                out.append([code, type(exc).__name__, str(exc)])
        attempt("from azureml.core import Workspace")
        attempt("import azureml.core; azureml.core.Experiment")
        attempt("from azureml.core.runconfig import PyTorchConfiguration")
        attempt("from azureml.core.environment import Environment")
        attempt("from azureml.core.conda_dependencies import CondaDependencies")
        attempt("from azureml.core.model import Model")
        attempt("from azureml.core.workspace import Workspace")
        attempt("from azureml.core.experiment import Experiment")
        attempt("from azureml.core.script_run_config import ScriptRunConfig")
        attempt("from azureml.core import NoSuchThing")
        attempt("import azureml.core; print(hasattr(azureml.core, 'NoSuchThing'))")
        attempt("from azureml.core import Run; Run(None, 'some-run-id')")
        print(json.dumps(out))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    expected_modules = [
        "azureml.core.Workspace",
        "azureml.core.Experiment",
        "azureml.core.runconfig.PyTorchConfiguration",
        "azureml.core.environment.Environment",
        "azureml.core.conda_dependencies.CondaDependencies",
        "azureml.core.model.Model",
        "azureml.core.workspace.Workspace",
        "azureml.core.experiment.Experiment",
        "azureml.core.script_run_config.ScriptRunConfig",
    ]
    for (_code, kind, message), name in zip(out, expected_modules):
        assert kind == "ImportError"
        assert message == f"{name} {SDK_HINT}"
    # An unknown name is looked for as a submodule too, which the stand-in says it does not provide.
    assert out[9][1] == "NotProvidedError" and "azureml.core.NoSuchThing is not provided by Trainyard" in out[9][2]
    assert out[10][1] == "ok"
    assert out[11][1] == "TypeError" and "trainyard python script.py" in out[11][2]


@pytest.fixture
def inject_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The inject folder importable in this process; its modules forgotten afterwards."""
    monkeypatch.syspath_prepend(str(INJECT))
    monkeypatch.delenv("TRAINYARD_TRACKING_DIR", raising=False)
    yield
    for name in list(sys.modules):
        if name == "azureml" or name.startswith("azureml.") or name == "trainyard_run":
            del sys.modules[name]


def test_sdk_names_forward_lazily_to_engine_sdk(
    inject_on_path: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("engine.sdk")
    names = [
        "Workspace",
        "Experiment",
        "Environment",
        "ScriptRunConfig",
        "Model",
        "ComputeTarget",
        "Dataset",
        "RunConfiguration",
        "PyTorchConfiguration",
        "MpiConfiguration",
        "CondaDependencies",
    ]
    for name in names:
        setattr(fake, name, type(name, (), {}))
    fake.Run = lambda *args: ("sdk run", args)  # type: ignore[attr-defined]
    import engine

    monkeypatch.setitem(sys.modules, "engine.sdk", fake)
    monkeypatch.setattr(engine, "sdk", fake, raising=False)

    core = importlib.import_module("azureml.core")
    for name in names[:8]:
        assert getattr(core, name) is getattr(fake, name)
    runconfig = importlib.import_module("azureml.core.runconfig")
    assert runconfig.PyTorchConfiguration is fake.PyTorchConfiguration
    assert runconfig.MpiConfiguration is fake.MpiConfiguration
    assert runconfig.RunConfiguration is fake.RunConfiguration
    assert importlib.import_module("azureml.core.environment").Environment is fake.Environment
    assert (
        importlib.import_module("azureml.core.conda_dependencies").CondaDependencies is fake.CondaDependencies
    )
    assert importlib.import_module("azureml.core.model").Model is fake.Model
    assert importlib.import_module("azureml.core.experiment").Experiment is fake.Experiment
    assert importlib.import_module("azureml.core.workspace").Workspace is fake.Workspace
    assert importlib.import_module("azureml.core.script_run_config").ScriptRunConfig is fake.ScriptRunConfig
    assert "Workspace" in core.__all__ and "Run" in core.__all__
    with pytest.raises(AttributeError):
        core.NotAnSdkName  # noqa: B018

    # In a control script (no run around it), Run.get_context() is the offline run...
    run = core.Run.get_context()
    assert run.id.startswith("OfflineRun_")
    # ...and Run(experiment, run_id) is the SDK's run object.
    assert core.Run("exp", "run-id") == ("sdk run", ("exp", "run-id"))


def test_the_real_engine_sdk_provides_the_names(inject_on_path: None) -> None:
    from engine import sdk
    core = importlib.import_module("azureml.core")
    assert core.Workspace is sdk.Workspace
    assert core.ScriptRunConfig is sdk.ScriptRunConfig
    runconfig = importlib.import_module("azureml.core.runconfig")
    assert runconfig.PyTorchConfiguration is sdk.PyTorchConfiguration
