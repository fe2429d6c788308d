"""The real MLflow inside Trainyard runs: a run environment built by Trainyard (uv, from PyPI and
this machine's wheels) with MLflow installed imports the real library, and everything it logs
lands in the Trainyard run through the ``trainyard`` plugins (tracking store, artifact repository,
model registry). One environment is built once for all these tests (``mlflow_ws``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.runs.files import RunFiles

pytestmark = pytest.mark.slow


def _ok(final: Any, log: str) -> None:
    assert final.status == "Completed", (final.error, log[-4000:])


CORE = """
import os, json
import mlflow
from mlflow.tracking import MlflowClient
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import numpy as np

print("mlflow", mlflow.__version__, mlflow.__file__)
print("uri", mlflow.get_tracking_uri())
mlflow.log_param("lr", 0.01)
mlflow.log_params({"batch": 32, "optimizer": "adam"})
mlflow.set_tags({"team": "vision", "stage": "dev"})
mlflow.set_tag("owner", "me")
for i in range(20):
    mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
mlflow.log_metrics({"acc": 0.5, "f1": 0.25}, step=3)
open("notes.txt", "w").write("some notes")
mlflow.log_artifact("notes.txt", artifact_path="docs")
os.makedirs("plots/deep", exist_ok=True)
open("plots/a.csv", "w").write("x\\n1\\n")
open("plots/deep/b.csv", "w").write("y\\n2\\n")
mlflow.log_artifacts("plots", artifact_path="plots")
mlflow.log_dict({"layers": [1, 2, 3]}, "config/model.json")
fig, ax = plt.subplots()
ax.plot([1, 2, 3])
mlflow.log_figure(fig, "figures/curve.png")
mlflow.log_table({"epoch": [1, 2], "loss": [0.5, 0.25]}, artifact_file="tables/results.json")
df = pd.DataFrame({"x": np.arange(5), "y": np.arange(5) * 2})
mlflow.log_input(mlflow.data.from_pandas(df, name="train-set"), context="training")

run = mlflow.active_run()
client = MlflowClient()
client.log_metric(run.info.run_id, "client_metric", 7.5, step=2)
got = client.get_run(run.info.run_id)
print("get_run", got.info.run_id, json.dumps(got.data.metrics, sort_keys=True), json.dumps(got.data.params, sort_keys=True))
print("tags", got.data.tags["team"], got.data.tags["owner"])
found = mlflow.search_runs(output_format="list")
print("search", [r.info.run_id for r in found])
found = client.search_runs([run.info.experiment_id], filter_string="params.lr = '0.01'")
print("filtered", [r.info.run_id for r in found])
print("experiment", client.get_experiment(run.info.experiment_id).name)
mlflow.end_run()
"""


def test_core_logging_with_the_real_client_lands_in_the_run(mlflow_ws: Any) -> None:
    final, log = mlflow_ws.run(CORE)
    _ok(final, log)
    lines = log.splitlines()
    eng = mlflow_ws.engine
    name = final.name
    # The real library was imported (from the run's environment), with the run's tracking URI.
    assert any(
        line.startswith("mlflow 3.") and "/site-packages/mlflow/__init__.py" in line for line in lines
    ), log
    assert any(line.startswith(f"uri trainyard://runs/{name}") for line in lines)
    # What the script read back through MLflow's own client.
    assert f"get_run {name} " in log
    assert '"client_metric": 7.5' in log and '"loss": 0.05' in log and '"lr": "0.01"' in log
    assert "tags vision me" in lines
    assert f"search ['{name}']" in lines and f"filtered ['{name}']" in lines
    assert "experiment mlflow-real" in lines
    # What Trainyard stored.
    hist = eng.metric_history(name, "loss")
    assert hist.steps.tolist() == list(range(20))
    assert hist.values.tolist() == [1.0 / (i + 1) for i in range(20)]
    assert eng.metric_history(name, "client_metric").values.tolist() == [7.5]
    assert eng.metric_history(name, "acc").steps.tolist() == [3]
    assert final.params == {"lr": "0.01", "batch": "32", "optimizer": "adam"}
    assert {"team": "vision", "stage": "dev", "owner": "me"}.items() <= final.tags.items()
    dataset = json.loads(final.tags["dataset.train-set"])
    assert dataset["context"] == "training" and dataset["digest"]
    out = RunFiles(Path(final.run_dir)).outputs
    assert (out / "docs" / "notes.txt").read_text() == "some notes"
    assert (out / "plots" / "a.csv").read_text() == "x\n1\n"
    assert (out / "plots" / "deep" / "b.csv").read_text() == "y\n2\n"
    assert json.loads((out / "config" / "model.json").read_text()) == {"layers": [1, 2, 3]}
    assert (out / "figures" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = json.loads((out / "tables" / "results.json").read_text())
    assert table["columns"] == ["epoch", "loss"] and table["data"] == [[1, 0.5], [2, 0.25]]


MODELS = """
import mlflow, numpy as np, torch
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
clf = LogisticRegression().fit(X, y)
info = mlflow.sklearn.log_model(clf, name="clf", registered_model_name="iris-clf", input_example=X[:2])
print("sklearn model", info.model_uri)
net = torch.nn.Sequential(torch.nn.Linear(3, 2))
mlflow.pytorch.log_model(net, name="net", input_example=np.zeros((1, 3), dtype=np.float32))
loaded = mlflow.sklearn.load_model(info.model_uri)
print("loaded predicts", loaded.predict(X).tolist())
"""


def test_log_model_writes_model_folders_and_registers_them(mlflow_ws: Any) -> None:
    final, log = mlflow_ws.run(MODELS)
    _ok(final, log)
    out = RunFiles(Path(final.run_dir)).outputs
    assert "flavors:" in (out / "clf" / "MLmodel").read_text()
    assert "sklearn" in (out / "clf" / "MLmodel").read_text()
    assert "pytorch" in (out / "net" / "MLmodel").read_text()
    assert "loaded predicts [0, 0, 1, 1]" in log
    (model,) = mlflow_ws.engine.list_models("iris-clf")
    assert model.run_name == final.name and model.tags["type"] == "mlflow_model"
    assert (Path(model.path) / "MLmodel").is_file()


NESTED = """
import os, mlflow
print("env run id", os.environ.get("MLFLOW_RUN_ID"))
with mlflow.start_run() as parent:
    mlflow.log_metric("outer", 1.0)
    for trial in range(2):
        with mlflow.start_run(nested=True, run_name=f"trial-{trial}") as child:
            mlflow.log_param("trial", trial)
            mlflow.log_metric("score", trial * 10.0, step=0)
            print("child", child.info.run_id, child.data.tags.get("mlflow.parentRunId"))
    with mlflow.start_run(nested=True, run_name="broken"):
        mlflow.log_metric("score", -1.0)
        mlflow.end_run(status="FAILED")
print("parent", parent.info.run_id)
"""


def test_nested_runs_become_child_runs(mlflow_ws: Any) -> None:
    final, log = mlflow_ws.run(NESTED)
    _ok(final, log)
    eng = mlflow_ws.engine
    name = final.name
    assert f"env run id {name}" in log and f"parent {name}" in log
    children = {c.display_name: c for c in eng.children(name)}
    assert set(children) == {"trial-0", "trial-1", "broken"}
    for trial in (0, 1):
        child = children[f"trial-{trial}"]
        assert child.status == "Completed" and child.parent_name == name
        assert child.experiment_name == final.experiment_name
        assert child.params == {"trial": str(trial)}
        assert eng.metric_history(child.name, "score").values.tolist() == [trial * 10.0]
        assert f"child {child.name} {name}" in log
    assert children["broken"].status == "Failed"
    assert eng.metric_history(name, "outer").values.tolist() == [1.0]


def test_mlflow_run_id_of_the_run_resumes_it(mlflow_ws: Any) -> None:
    """MLFLOW_RUN_ID names the run: start_run() resumes it, and a run started again after
    end_run() goes on logging into the same Trainyard run."""
    code = """
    import mlflow
    with mlflow.start_run() as a:
        mlflow.log_metric("m", 1.0, step=0)
    with mlflow.start_run() as b:
        mlflow.log_metric("m", 2.0, step=1)
    print("ids", a.info.run_id, b.info.run_id)
    """
    final, log = mlflow_ws.run(code)
    _ok(final, log)
    assert f"ids {final.name} {final.name}" in log
    assert mlflow_ws.engine.metric_history(final.name, "m").values.tolist() == [1.0, 2.0]


def test_sklearn_autolog(mlflow_ws: Any) -> None:
    code = """
    import mlflow, numpy as np
    from sklearn.ensemble import RandomForestClassifier
    mlflow.sklearn.autolog()
    X = np.random.RandomState(0).rand(40, 3); y = (X[:, 0] > 0.5).astype(int)
    RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    """
    final, log = mlflow_ws.run(code)
    _ok(final, log)
    assert final.params["n_estimators"] == "5" and final.params["max_depth"] == "3"
    keys = set(mlflow_ws.engine.latest_metrics(final.name))
    assert {"training_accuracy_score", "training_f1_score"} <= keys, keys
    assert (RunFiles(Path(final.run_dir)).outputs / "model" / "MLmodel").is_file()


LIGHTNING = """
import mlflow, torch
import lightning as L
from lightning.pytorch.loggers import MLFlowLogger
from torch.utils.data import DataLoader, TensorDataset

class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randn(32, 1)), batch_size=8)
kw = dict(max_epochs=2, enable_progress_bar=False, enable_checkpointing=False, log_every_n_steps=1)
mlflow.pytorch.autolog(log_models=False)
L.Trainer(logger=False, **kw).fit(Net(), data)
logger = MLFlowLogger(experiment_name="mlflow-real", run_id=mlflow.last_active_run().info.run_id)
L.Trainer(logger=logger, **kw).fit(Net(), data)
logger.log_metrics({"logger_metric": 3.0}, step=0)
print("logger run", logger.run_id)
"""


def test_lightning_autolog_and_its_mlflow_logger(mlflow_ws: Any) -> None:
    final, log = mlflow_ws.run(LIGHTNING)
    _ok(final, log)
    eng = mlflow_ws.engine
    assert f"logger run {final.name}" in log
    # autolog: the epoch-level metrics and the optimizer's params; the logger: every step's loss.
    assert final.params["optimizer_name"] == "SGD" and final.params["epochs"] == "2"
    assert len(eng.metric_history(final.name, "train_loss").values) >= 8
    assert eng.metric_history(final.name, "logger_metric").values.tolist() == [3.0]


TRANSFORMERS = """
import os, sys, torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
report = sys.argv[1]
model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=16, num_labels=2))
class Data(torch.utils.data.Dataset):
    def __len__(self): return 16
    def __getitem__(self, i):
        return {"input_ids": torch.tensor([1, 2, 3, i % 5]), "labels": torch.tensor(i % 2)}
args = TrainingArguments(output_dir="hf-out", report_to=report, num_train_epochs=2, logging_steps=1,
                         per_device_train_batch_size=4, save_strategy="no", use_cpu=True)
Trainer(model=model, args=args, train_dataset=Data()).train()
print("trained with", report)
"""


@pytest.mark.parametrize("report", ["mlflow", "all"])
def test_transformers_trainer_reports_to_mlflow(mlflow_ws: Any, report: str) -> None:
    code = TRANSFORMERS.replace("report = sys.argv[1]", f"report = {report!r}")
    final, log = mlflow_ws.run(code)
    _ok(final, log)
    assert f"trained with {report}" in log
    loss = mlflow_ws.engine.metric_history(final.name, "loss")
    assert len(loss.values) == 8 and loss.steps.tolist() == list(range(1, 9))
    assert final.params["num_train_epochs"] == "2"


def test_xgboost_and_lightgbm_autolog(mlflow_ws: Any) -> None:
    code = """
    import mlflow, numpy as np, xgboost as xgb, lightgbm as lgb
    mlflow.autolog(log_models=False)
    X = np.random.RandomState(0).rand(60, 3); y = (X[:, 0] > 0.5).astype(int)
    mlflow.start_run()
    xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3,
              evals=[(xgb.DMatrix(X, label=y), "train")])
    with mlflow.start_run(nested=True, run_name="lgb"):
        lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1}, lgb.Dataset(X, label=y),
                  num_boost_round=3, valid_sets=[lgb.Dataset(X, label=y)], valid_names=["train"])
    """
    final, log = mlflow_ws.run(code)
    _ok(final, log)
    eng = mlflow_ws.engine
    assert final.params["max_depth"] == "2"
    assert eng.metric_history(final.name, "train-logloss").steps.tolist() == [0, 1, 2]
    (child,) = eng.children(final.name)
    assert child.params["num_leaves"] == "4"
    assert eng.metric_history(child.name, "train-binary_logloss").steps.tolist() == [0, 1, 2]
