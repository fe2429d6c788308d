"""The ``mlflow`` stand-in: MLflow-instrumented training scripts run with nothing installed (only
the inject folder importable, ``python -S`` with the run's ``sitecustomize`` imported as ``site``
would) and their calls land in the run's record files,
read back with ``engine.tracking.records``. scikit-learn is not installed in this venv, so
autolog is checked against a small fake ``sklearn`` package written next to the script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.tracking.records import Record, read_writer, scalar_columns, writers

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"


def run_bare(tmp_path: Path, code: str, *, live: bool = True, bare: bool = True,
             files: dict[str, str] | None = None, after: str | None = None) -> subprocess.CompletedProcess[str]:
    """A training script where only the inject folder is importable (``bare``: no site-packages)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    for rel, text in (files or {}).items():  # modules beside the script: importable as sys.path[0]
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINYARD_", "MLFLOW_"))}
    # Not bare: the test venv has its own (real) MLflow, so the stand-in is put first explicitly.
    env["PYTHONPATH"] = str(INJECT) if bare else os.pathsep.join([str(INJECT / "trainyard_standins"), str(INJECT)])
    if after:  # a folder after the inject folder, as the environment's site-packages would be
        env["PYTHONPATH"] += os.pathsep + after
    if live:
        env.update(
            TRAINYARD_RUN_ID="ml-run",
            TRAINYARD_EXPERIMENT="ml-exp",
            TRAINYARD_TRACKING_DIR=str(tmp_path / "tracking"),
            MLFLOW_TRACKING_URI="trainyard://runs/ml-run",
        )
    # -S skips `site`, which is what imports sitecustomize (the stand-in's finder): import it as site would.
    start = ["-S", "-c", ("import sitecustomize, runpy, sys; sys.argv = sys.argv[1:]; "
                          "runpy.run_path(sys.argv[0], run_name='__main__')")] if bare else []
    return subprocess.run(
        [sys.executable, *start, str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def records_of(tmp_path: Path) -> list[Record]:
    (writer,) = writers(tmp_path / "tracking")
    records, errors = read_writer(tmp_path / "tracking", writer)
    assert errors == []
    return records


def merged(records: list[Record], kind: str) -> list[dict]:
    return [r.value for r in records if r.kind == kind]  # type: ignore[misc]


def uploads(tmp_path: Path, records: list[Record]) -> dict[str, bytes]:
    return {str(r.key): (tmp_path / "tracking" / str(r.value)).read_bytes() for r in records if r.kind == "u"}


def test_every_call_lands_in_the_run(tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("weights")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.csv").write_text("x\n1\n")
    (tmp_path / "plots" / "deep").mkdir()
    (tmp_path / "plots" / "deep" / "b.csv").write_text("y\n2\n")
    proc = run_bare(
        tmp_path,
        """
        import mlflow
        print("before", mlflow.active_run())
        with mlflow.start_run(run_name="first try", tags={"team": "vision"}, description="about") as run:
            print("run", run.info.run_id, run.info.experiment_id, run.info.status, mlflow.active_run() is run)
            print("uri", mlflow.get_tracking_uri())
            for i in range(4):
                mlflow.log_metric("loss", 1.0 / (i + 1))
            mlflow.log_metric("val", 0.5, step=10)
            mlflow.log_metric("val", 0.75, step=20, timestamp=1700000000123)
            mlflow.log_metric("flag", True)
            mlflow.log_metrics({"a": 1, "b": 2.5}, step=7)
            mlflow.log_metrics({"a": 2})
            print("param returns", mlflow.log_param("lr", 0.01))
            mlflow.log_params({"batch": 32, "optimizer": "adam", "layers": [1, 2]})
            mlflow.set_tag("stage", "dev")
            mlflow.set_tags({"n": 3, "none": None})
            mlflow.log_artifact("model.txt")
            mlflow.log_artifact("model.txt", artifact_path="models/v1")
            mlflow.log_artifacts("plots", artifact_path="charts")
            mlflow.log_artifacts("plots")
            mlflow.log_text("some notes", "notes/readme.txt")
            mlflow.log_dict({"k": [1, 2]}, "config.json")
            with mlflow.start_run(nested=True) as inner:
                print("nested", inner.info.run_id, mlflow.active_run() is inner)
                mlflow.log_metric("inner", 1)
            print("outer active again", mlflow.active_run() is run)
            print("experiment", mlflow.set_experiment("ml-exp").name)
            mlflow.set_experiment("elsewhere")
            mlflow.set_tracking_uri("trainyard://runs/ml-run")
            mlflow.set_tracking_uri("http://localhost:5000")
            print("uri after", mlflow.get_tracking_uri())
        print("after", mlflow.active_run(), run.info.status, mlflow.last_active_run() is run)
        mlflow.log_metric("late", 3)  # starts the run again, as MLflow's calls do
        print("restarted", mlflow.active_run().info.run_id)
        mlflow.end_run()
        try:
            with mlflow.start_run():
                raise KeyError("boom")
        except KeyError:
            print("failed status", mlflow.last_active_run().info.status)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "before None",
        "run ml-run ml-exp RUNNING True",
        "uri trainyard://runs/ml-run",
        "param returns 0.01",
        "nested ml-run True",
        "outer active again True",
        "experiment ml-exp",
        "uri after trainyard://runs/ml-run",
        "after None FINISHED True",
        "restarted ml-run",
        "failed status FAILED",
    ]
    assert proc.stderr.splitlines() == [
        "trainyard: mlflow.set_experiment('elsewhere'): run 'ml-run' belongs to experiment 'ml-exp' and logs there",
        ("trainyard: mlflow.set_tracking_uri('http://localhost:5000'): ignored inside a Trainyard run; "
         "MLflow calls log to the run (trainyard://runs/ml-run)"),
    ]
    records = records_of(tmp_path)
    scalars = scalar_columns(records)
    assert scalars["loss"][:2] == ([0, 1, 2, 3], [1.0, 0.5, 1.0 / 3, 0.25])
    assert scalars["val"][:2] == ([10, 20], [0.5, 0.75])
    assert scalars["val"][2][1] == 1700000000.123
    assert scalars["flag"][:2] == ([0], [1.0])
    assert scalars["a"][:2] == ([7, 1], [1.0, 2.0])  # without step: the key's own count goes on
    assert scalars["b"][:2] == ([7], [2.5])
    assert scalars["inner"][:2] == ([0], [1.0])
    assert scalars["late"][:2] == ([0], [3.0])
    assert merged(records, "p") == [{"lr": 0.01}, {"batch": 32, "optimizer": "adam", "layers": "[1, 2]"}]
    assert merged(records, "g") == [
        {"team": "vision", "mlflow.runName": "first try", "mlflow.note.content": "about"},
        {"stage": "dev"},
        {"n": "3", "none": "None"},  # str(value), as MLflow stores tags
    ]
    assert uploads(tmp_path, records) == {
        "outputs/model.txt": b"weights",
        "outputs/models/v1/model.txt": b"weights",
        "outputs/charts/a.csv": b"x\n1\n",
        "outputs/charts/deep/b.csv": b"y\n2\n",
        "outputs/a.csv": b"x\n1\n",
        "outputs/deep/b.csv": b"y\n2\n",
        "outputs/notes/readme.txt": b"some notes",
        "outputs/config.json": b'{\n  "k": [\n    1,\n    2\n  ]\n}',
    }


def test_bad_input_raises_clear_errors_and_logs_nothing(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    proc = run_bare(
        tmp_path,
        """
        import json, mlflow
        from mlflow.exceptions import InvalidInput, MlflowException
        out = []
        def attempt(code):
            try:
                exec(code, {"mlflow": mlflow})
                out.append([code, "ok", ""])
            except Exception as exc:
                kinds = [k.__name__ for k in (MlflowException, TypeError, ValueError) if isinstance(exc, k)]
                out.append([code, type(exc).__name__ + "/" + ",".join(kinds), str(exc)])
        attempt("mlflow.log_metric('loss', 'abc')")
        attempt("mlflow.log_metric('loss', None)")
        attempt("mlflow.log_metric('loss', 0.5, step=1.5)")
        attempt("mlflow.log_metric('loss', 0.5, step=True)")
        attempt("mlflow.log_metric('loss', 0.5, timestamp='now')")
        attempt("mlflow.log_metric('', 0.5)")
        attempt("mlflow.log_metric(3, 0.5)")
        attempt("mlflow.log_metrics({'ok': 1, 'bad': 'x'})")
        attempt("mlflow.log_metrics([('ok', 1)])")
        attempt("mlflow.log_param('', 1)")
        attempt("mlflow.log_params(['lr'])")
        attempt("mlflow.set_tag(None, 'v')")
        attempt("mlflow.set_tags('k=v')")
        attempt("mlflow.log_artifact('missing.txt')")
        attempt("mlflow.log_artifact('folder')")
        attempt("mlflow.log_artifact('train.py', artifact_path='../up')")
        attempt("mlflow.log_artifacts('missing')")
        attempt("mlflow.log_text(b'bytes', 'a.txt')")
        attempt("mlflow.log_text('x', '/abs.txt')")
        attempt("mlflow.log_text('x', '')")
        attempt("mlflow.log_dict({'s': {1, 2}}, 'd.json')")
        attempt("mlflow.log_figure(object(), 'f.png')")
        attempt("mlflow.log_image(object(), key='img')")
        attempt("mlflow.set_experiment()")
        attempt("mlflow.start_run(tags=['a'])")
        attempt("mlflow.MlflowClient")
        attempt("import mlflow.sklearn; mlflow.sklearn.log_model")
        attempt("mlflow.start_run(); mlflow.start_run()")
        print(json.dumps(out))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    results = [tuple(row[1:]) for row in json.loads(proc.stdout)]
    invalid = "InvalidInput/MlflowException,TypeError,ValueError"
    number = "metric values must be numbers (int or float), got"
    assert results == [
        (invalid, f"mlflow.log_metric('loss', 'abc'): {number} str 'abc'"),
        (invalid, f"mlflow.log_metric('loss', None): {number} NoneType None"),
        (invalid, "mlflow.log_metric('loss', 0.5, step=1.5): step must be an int, got float 1.5"),
        (invalid, "mlflow.log_metric('loss', 0.5, step=True): step must be an int, got bool True"),
        (invalid, ("mlflow.log_metric('loss', 0.5, timestamp='now'): timestamp must be milliseconds since "
                   "the epoch (an int), got str 'now'")),
        (invalid, "mlflow.log_metric('', ...): the key must be a non-empty string, got str ''"),
        (invalid, "mlflow.log_metric(3, ...): the key must be a non-empty string, got int 3"),
        (invalid, f"mlflow.log_metrics({{'bad': 'x'}}): {number} str 'x'"),
        (invalid, "mlflow.log_metrics(...): expected a dict of metric name -> number, got list"),
        (invalid, "mlflow.log_param('', ...): the key must be a non-empty string, got str ''"),
        (invalid, "mlflow.log_params(...): expected a dict, got list"),
        (invalid, "mlflow.set_tag(None, ...): the key must be a non-empty string, got NoneType None"),
        (invalid, "mlflow.set_tags(...): expected a dict, got str"),
        ("FileNotFoundError/", "mlflow.log_artifact('missing.txt'): no such file"),
        ("IsADirectoryError/", ("mlflow.log_artifact('folder'): this is a folder; log a folder with "
                                "mlflow.log_artifacts(...)")),
        (invalid, ("mlflow.log_artifact(..., '../up'): the artifact_path must be a relative path inside the "
                   "run's artifacts, like 'plots' or 'plots/loss.png'")),
        ("FileNotFoundError/", "mlflow.log_artifacts('missing'): no such folder"),
        (invalid, "mlflow.log_text(b'bytes', 'a.txt'): expected a string, got bytes"),
        (invalid, ("mlflow.log_text(..., '/abs.txt'): the artifact_file must be a relative path inside the "
                   "run's artifacts, like 'plots' or 'plots/loss.png'")),
        (invalid, "mlflow.log_text(..., ''): artifact_file needs a file name, like 'report.txt'"),
        (invalid, ("mlflow.log_dict(..., 'd.json'): cannot serialize it: Object of type set is not "
                   "JSON serializable")),
        (invalid, "mlflow.log_figure(..., 'f.png'): expected a matplotlib or plotly figure, got object"),
        (invalid, ("mlflow.log_image(image, key=...): image metrics by key are not supported under "
                   "Trainyard; give artifact_file='name.png'")),
        (invalid, "mlflow.set_experiment(...): give exactly one of experiment_name or experiment_id"),
        (invalid, "mlflow.start_run(tags=...): expected a dict of tags, got list"),
        ("AttributeError/", ("module 'mlflow' has no attribute 'MlflowClient': inside a Trainyard run "
                             "`mlflow` is Trainyard's stand-in, which provides the logging calls "
                             "(log_metric(s), log_param(s), set_tag(s), log_artifact(s), log_text, log_dict, "
                             "start_run, autolog, ...), not the rest of MLflow's API")),
        ("AttributeError/", ("mlflow.sklearn.log_model is not provided inside a Trainyard run: save the model "
                             "under ./outputs (e.g. joblib.dump(model, 'outputs/model.pkl')) and Trainyard "
                             "keeps it with the run")),
        ("MlflowException/MlflowException", ("Run with UUID ml-run is already active. To start a new run, "
                                             "first end the current run with mlflow.end_run(). To start a "
                                             "nested run, call start_run with nested=True")),
    ]
    # A rejected call logs nothing: not even the good half of log_metrics({'ok': 1, 'bad': 'x'}).
    assert not (tmp_path / "tracking").exists() or all(
        r.kind == "k" for r in records_of(tmp_path)
    )


def test_outside_a_run_calls_print_instead_of_logging(tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("weights")
    proc = run_bare(
        tmp_path,
        """
        import mlflow
        with mlflow.start_run() as run:
            print(run.info.run_id.startswith("OfflineRun_"), run.info.experiment_id)
            mlflow.log_metric("loss", 0.5, step=3)
            mlflow.log_param("lr", 0.1)
            mlflow.set_tag("k", "v")
            mlflow.log_artifact("model.txt")
            mlflow.set_experiment("mine")
            mlflow.set_tracking_uri("http://localhost:5000")
            print(mlflow.get_tracking_uri())
            try:
                mlflow.log_metric("loss", "abc")
            except ValueError as exc:
                print(exc)
        """,
        live=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "True offline_experiment",
        "Attempted to log scalar metric loss:",
        "0.5",
        "Attempted to log parameter lr:",
        "0.1",
        "Attempted to set tag k:",
        "v",
        "Attempted to upload file outputs/model.txt:",
        "model.txt",
        "http://localhost:5000",
        "mlflow.log_metric('loss', 'abc'): metric values must be numbers (int or float), got str 'abc'",
    ]
    assert proc.stderr == ""
    assert not (tmp_path / "tracking").exists()


# A stand-in for scikit-learn's pieces that autolog uses: all_estimators(), is_classifier/
# is_regressor, metrics, and a meta-estimator that fits another one inside its own fit.
FAKE_SKLEARN = {
    "sklearn/__init__.py": "",
    "sklearn/base.py": """
        class BaseEstimator:
            def get_params(self, deep=True):
                return dict(self.__dict__.get("params", {}))

        def is_classifier(est):
            return getattr(est, "_estimator_type", None) == "classifier"

        def is_regressor(est):
            return getattr(est, "_estimator_type", None) == "regressor"
    """,
    "sklearn/metrics.py": """
        def accuracy_score(y, pred, sample_weight=None):
            return sum(a == b for a, b in zip(y, pred)) / len(y)

        def mean_squared_error(y, pred, sample_weight=None):
            return sum((a - b) ** 2 for a, b in zip(y, pred)) / len(y)
    """,
    "sklearn/utils/__init__.py": """
        def all_estimators():
            from sklearn.models import Majority, Mean, Wrapper
            return [("Majority", Majority), ("Mean", Mean), ("Wrapper", Wrapper)]
    """,
    "sklearn/models.py": """
        from sklearn.base import BaseEstimator

        class Majority(BaseEstimator):
            _estimator_type = "classifier"
            def __init__(self, smoothing=0.5):
                self.params = {"smoothing": smoothing}
            def fit(self, X, y, sample_weight=None):
                if not y:
                    raise ValueError("no labels")
                self.label = max(set(y), key=list(y).count)
                return self
            def predict(self, X):
                return [self.label for _ in X]
            def score(self, X, y, sample_weight=None):
                return 0.25  # distinct from the accuracy, so the test tells them apart

        class Mean(BaseEstimator):
            _estimator_type = "regressor"
            def __init__(self):
                self.params = {"center": True}
            def fit(self, X, y):
                self.mean = sum(y) / len(y)
                return self
            def predict(self, X):
                return [self.mean for _ in X]
            def score(self, X, y):
                return -1.0

        class Wrapper(BaseEstimator):
            def __init__(self, inner):
                self.inner = inner
                self.params = {"inner": inner, "depth": 2}
            def fit(self, X, y=None):
                self.inner.fit(X, y)  # an inner fit: it must not log on its own
                return self
    """,
}


def test_sklearn_autolog_logs_params_tags_and_training_metrics(tmp_path: Path) -> None:
    proc = run_bare(
        tmp_path,
        """
        import mlflow
        mlflow.autolog()
        from sklearn.models import Majority, Mean, Wrapper
        from sklearn.base import BaseEstimator
        X = [[0], [1], [2], [3]]
        model = Majority(smoothing=0.1).fit(X, [1, 1, 0, 1])
        print("fit returns the model", isinstance(model, Majority), model.label)
        print("managed run ended", mlflow.active_run(), mlflow.last_active_run().info.status)

        class Mine(BaseEstimator):  # a script's own estimator: not in all_estimators(), not patched
            def fit(self, X, y):
                return self

        with mlflow.start_run():
            Mean().fit(X, y=[1.0, 2.0, 3.0, 4.0])
            Wrapper(Majority()).fit(X, [0, 0, 1, 1])
            Mine().fit(X, [1, 2, 3, 4])
            try:
                Majority().fit(X, [])  # the fit itself fails: the error is the script's
            except ValueError as exc:
                print("fit error", exc)
        mlflow.sklearn.autolog(disable=True)
        print("still patched?", hasattr(Majority.fit, "_trainyard_autolog"))
        Majority().fit(X, [1, 1, 1, 1])
        """,
        files=FAKE_SKLEARN,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "fit returns the model True 1",
        "managed run ended None FINISHED",
        "fit error no labels",
        "still patched? False",
    ]
    records = records_of(tmp_path)
    scalars = scalar_columns(records)
    assert scalars["training_score"][:2] == ([0, 1], [0.25, -1.0])
    assert scalars["training_accuracy_score"][:2] == ([0], [0.75])
    assert scalars["training_mean_squared_error"][:2] == ([0], [1.25])
    assert scalars["training_root_mean_squared_error"][:2] == ([0], [1.25 ** 0.5])
    # The fake sklearn.metrics has no precision/recall/f1/mae/r2: those are skipped, not errors.
    assert set(scalars) == {"training_score", "training_accuracy_score", "training_mean_squared_error",
                            "training_root_mean_squared_error"}
    classes = [(g["estimator_name"], g["estimator_class"]) for g in merged(records, "g")]
    assert classes == [("Majority", "sklearn.models.Majority"), ("Mean", "sklearn.models.Mean"),
                       ("Wrapper", "sklearn.models.Wrapper"), ("Majority", "sklearn.models.Majority")]
    params = merged(records, "p")
    assert params[0] == {"smoothing": 0.1}
    assert params[2]["depth"] == 2 and params[2]["inner"].startswith("<sklearn.models.Majority object")
    assert len(params) == 4  # Majority, Mean, Wrapper (not its inner fit), the failing Majority
    assert proc.stderr == ""


def test_autolog_without_sklearn(tmp_path: Path) -> None:
    proc = run_bare(
        tmp_path,
        """
        import mlflow, mlflow.pytorch
        mlflow.autolog()  # nothing it supports is installed: nothing to do, no error
        mlflow.pytorch.autolog()
        mlflow.pytorch.autolog()  # the note comes once
        mlflow.pytorch.autolog(silent=True)
        try:
            mlflow.sklearn.autolog()
        except ImportError as exc:
            print(exc)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "mlflow.sklearn.autolog(): scikit-learn is not installed in the run's environment"
    ]
    assert proc.stderr.splitlines() == [
        ("trainyard: mlflow.pytorch.autolog(): Trainyard does not log PyTorch training by itself; "
         "log with mlflow.log_metric(...)")
    ]


def test_images_figures_and_yaml_with_the_venvs_packages(tmp_path: Path) -> None:
    """numpy, Pillow and PyYAML come from the venv here (not bare), as from a run's environment."""
    proc = run_bare(
        tmp_path,
        """
        import numpy as np
        from PIL import Image
        import mlflow
        gray = np.array([[0.0, 1.0], [0.5, 0.25]])
        mlflow.log_image(gray, "images/gray.png")
        rgb = np.zeros((2, 3, 3), dtype=np.uint8); rgb[0, 0] = (255, 0, 0)
        mlflow.log_image(rgb, artifact_file="rgb.png")
        mlflow.log_image(Image.new("RGB", (4, 4), (0, 0, 255)), "blue.jpg")
        try:
            mlflow.log_image(np.array([[2.0]]), "bad.png")
        except ValueError as exc:
            print(exc)

        class Figure:  # what log_figure needs of a matplotlib figure
            def savefig(self, out, format=None, dpi=None):
                out.write(f"figure as {format} at {dpi}".encode())
        mlflow.log_figure(Figure(), "plots/curve.svg", save_kwargs={"dpi": 72})
        mlflow.log_dict({"layers": [4, 2], "name": "net"}, "config.yaml")
        """,
        bare=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "mlflow.log_image(..., 'bad.png'): float image values must be in [0, 1], got [2.0, 2.0]"
    ]
    import io

    import numpy as np
    from PIL import Image

    files = uploads(tmp_path, records_of(tmp_path))
    assert set(files) == {"outputs/images/gray.png", "outputs/rgb.png", "outputs/blue.jpg",
                          "outputs/plots/curve.svg", "outputs/config.yaml"}
    gray = Image.open(io.BytesIO(files["outputs/images/gray.png"]))
    assert (gray.format, gray.mode) == ("PNG", "L")
    assert np.asarray(gray).tolist() == [[0, 255], [128, 64]]
    rgb = Image.open(io.BytesIO(files["outputs/rgb.png"]))
    assert np.asarray(rgb)[0, 0].tolist() == [255, 0, 0] and rgb.size == (3, 2)
    assert Image.open(io.BytesIO(files["outputs/blue.jpg"])).format == "JPEG"
    assert files["outputs/plots/curve.svg"] == b"figure as svg at 72"
    assert files["outputs/config.yaml"] == b"layers:\n- 4\n- 2\nname: net\n"


def test_the_standin_serves_imports_but_not_probes(tmp_path: Path) -> None:
    """Without MLflow in the environment `import mlflow` is the stand-in, but libraries probing
    with importlib.util.find_spec (transformers, Lightning) see no MLflow."""
    proc = run_bare(tmp_path, """
        import importlib.util, pkgutil
        print("probe", importlib.util.find_spec("mlflow"))
        import mlflow
        print("imported", mlflow.__file__.replace("\\\\", "/").split("inject/")[1])
        mlflow.log_metric("m", 1.0)
        """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["probe None", "imported trainyard_standins/mlflow/__init__.py"]
    assert [r.key for r in records_of(tmp_path) if r.kind == "m"] == ["m"]


def test_a_real_mlflow_in_the_environment_wins(tmp_path: Path) -> None:
    real = tmp_path / "site"
    (real / "mlflow").mkdir(parents=True)
    (real / "mlflow" / "__init__.py").write_text("WHO = 'the real one'\n")
    proc = run_bare(tmp_path, """
        import importlib.util
        print("probe", importlib.util.find_spec("mlflow").origin.endswith("site/mlflow/__init__.py"))
        import mlflow
        print(mlflow.WHO)
        """, after=str(real))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["probe True", "the real one"]


def test_the_environments_own_sitecustomize_still_runs(tmp_path: Path) -> None:
    env_site = tmp_path / "site"
    env_site.mkdir()
    (env_site / "sitecustomize.py").write_text("import builtins\nbuiltins.ENV_HOOK = 'ran'\n")
    proc = run_bare(tmp_path, """
        import sys
        print(ENV_HOOK, any(type(f).__name__ == "type" and f.__name__ == "StandinFinder" for f in sys.meta_path))
        """, after=str(env_site))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["ran True"]
